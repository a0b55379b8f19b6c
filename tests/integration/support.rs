//! The test support itself: every sample event is compiled into the emulator,
//! and the command line's tables align.

use std::path::Path;

#[test]
fn every_file_in_events_is_compiled_in() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    on_disk.sort();
    let compiled: Vec<&str> = emulator::SAMPLE_EVENTS.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        on_disk, compiled,
        "add the new file to samples!() in crates/emulator"
    );
    for (name, _) in emulator::SAMPLE_EVENTS {
        emulator::sample_event(name).unwrap();
    }
}

#[test]
fn columns_align() {
    let t = cost_guard::table::columns(
        &["A", "BB"],
        &[
            vec!["long".into(), "x".into()],
            vec!["s".into(), "y".into()],
        ],
    );
    assert_eq!(t, "A     BB\nlong  x\ns     y\n");
}
