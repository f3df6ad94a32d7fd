//! Scenarios survive `to_toml` → `from_toml` unchanged (SCENARIO.md: a scenario built in code
//! can be saved, and a saved one loaded).

use ember_cli::run::{self, BUNDLED_CUBA};
use ember_engine::Scenario;

fn round_trip(name: &str, text: &str) {
    let first = run::parse(name, text).unwrap();
    let saved = first
        .to_toml()
        .unwrap_or_else(|e| panic!("{name}: to_toml failed: {e}"));
    let second = run::parse(&format!("{name} (saved)"), &saved)
        .unwrap_or_else(|e| panic!("{name}: the saved text does not parse: {e}\n{saved}"));
    assert_eq!(first, second, "{name}: changed by the round trip:\n{saved}");
    // Saving is stable too.
    assert_eq!(second.to_toml().unwrap(), saved, "{name}");
}

#[test]
fn bundled_cuba_round_trips() {
    round_trip("cuba.toml", BUNDLED_CUBA);
}

#[test]
fn every_optional_field_round_trips() {
    round_trip("roundtrip.toml", include_str!("data/roundtrip.toml"));
}

#[test]
fn scenario_changed_in_code_round_trips_and_runs() {
    let mut sc: Scenario = run::parse("cuba.toml", BUNDLED_CUBA).unwrap();
    sc.simulation.duration = 2.0;
    sc.simulation.seed = 9;
    sc.populations[1].size = 100;
    let text = sc.to_toml().unwrap();
    let back = run::parse("saved.toml", &text).unwrap();
    assert_eq!(back, sc);
    let (_, handles) = run::build("saved.toml", &back, 1).unwrap();
    assert_eq!(handles.steps, 20);
}
