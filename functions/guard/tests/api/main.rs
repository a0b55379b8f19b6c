//! Tests of the library through its public API alone: the SDK fault matrix
//! (`aws-smithy-mocks`) and the selection properties (`proptest`). One binary,
//! so one link.

mod sdk_faults;
mod select_props;
