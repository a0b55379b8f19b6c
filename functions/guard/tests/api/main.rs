//! Tests of the library through its public API alone: the SDK fault matrix
//! (`aws-smithy-mocks`), the selection properties and the saved-state
//! properties of groups and services (`proptest`). One binary,
//! so one link.

mod kinds_props;
mod sdk_faults;
mod select_props;
