//! The guides quote code they do not compile (the body of `Reactor::run_once`, say) in
//! `rust,ignore` blocks whose first line names the file they come from. Every quoted line must
//! still be in that file, in the same order, so a quote cannot drift from the code.

use std::path::Path;

/// `(file, lines)` for every quoted block of a guide.
fn quoted_blocks(guide: &str) -> Vec<(String, Vec<String>)> {
    let mut blocks = Vec::new();
    let mut lines = guide.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "```rust,ignore" {
            continue;
        }
        let body: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
        let Some(source) = body.first().and_then(|l| l.trim().strip_prefix("// ")) else {
            panic!("a rust,ignore block must start with `// <file it quotes>`: {body:?}");
        };
        let quoted = body[1..]
            .iter()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        blocks.push((source.to_string(), quoted));
    }
    blocks
}

#[test]
fn quoted_code_is_still_in_the_sources_it_names() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for guide in [
        "docs/internals.md",
        "docs/guide.md",
        "docs/porting-from-twisted.md",
        "README.md",
    ] {
        let text = std::fs::read_to_string(root.join(guide)).unwrap();
        for (file, quoted) in quoted_blocks(&text) {
            let source = std::fs::read_to_string(root.join(&file))
                .unwrap_or_else(|e| panic!("{guide} quotes {file}: {e}"));
            let mut rest: Vec<&str> = source.lines().map(str::trim).collect();
            for line in &quoted {
                let Some(at) = rest.iter().position(|l| l == line) else {
                    panic!("{guide} quotes a line {file} no longer has (in this order): {line}");
                };
                rest.drain(..=at);
            }
            checked += 1;
        }
    }
    assert!(checked >= 1, "no quoted block found");
}

/// The porting guide compares the async echo client's length in both languages: the numbers
/// it gives must be the files' line counts.
#[test]
fn the_porting_guide_counts_the_async_echo_clients_lines_right() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lines = |file: &str| {
        std::fs::read_to_string(root.join(file))
            .unwrap()
            .lines()
            .count()
    };
    let guide = std::fs::read_to_string(root.join("docs/porting-from-twisted.md")).unwrap();
    let guide = guide.split_whitespace().collect::<Vec<_>>().join(" ");
    let twisted = lines("tests/interop/echo_client_async.py");
    let gyre = lines("examples/echo_client_async.rs");
    let claim = format!(
        "`tests/interop/echo_client_async.py` ({twisted} lines); the gyre example is {gyre} lines"
    );
    assert!(guide.contains(&claim), "the guide should say: {claim}");
}
