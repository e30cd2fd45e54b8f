//! Prints the arrows of one scenario (debug aid; `cargo test --test engine_debug -- --nocapture`).
use scenarios::engine::WorldEngine;
use scenarios::runner::Engine;

#[test]
#[ignore]
fn dump() {
    let f = std::env::var("SCENARIO").unwrap_or_else(|_| "01-first-use.toml".into());
    let s = scenarios::scenario::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(f))
        .unwrap();
    let mut e = WorldEngine::new(&s).unwrap();
    for st in &s.steps {
        println!("== step {} {}", st.index, st.label);
        match e.step(st) {
            Ok(ev) => {
                for a in ev {
                    println!(
                        "{:>8} {}->{} {} | {}",
                        a.t_ms,
                        a.from,
                        a.to,
                        a.label,
                        a.detail_lines.join(" / ")
                    );
                }
            }
            Err(x) => println!("ERR {x}"),
        }
    }
    println!("{:#?}", e.observe());
}
