//! A tiny flag parser shared by the examples: `--name value` pairs and bare `--switch`es, both
//! read off the example's usage line (`[--port 9999]` takes a value, `[--quiet]` does not).
#![allow(dead_code)] // each example uses part of it

use std::collections::HashMap;
use std::str::FromStr;

/// Flags given on the command line, checked against the ones an example knows.
pub struct Args {
    usage: &'static str,
    values: HashMap<String, String>,
    switches: Vec<String>,
    pub positional: Vec<String>,
}

impl Args {
    /// Parses `std::env::args()` against the flags `usage` shows. Prints `usage` and exits
    /// with code 2 on anything else.
    pub fn parse(usage: &'static str) -> Args {
        let (mut valued, mut switches) = (Vec::new(), Vec::new());
        for word in usage
            .split_whitespace()
            .filter_map(|w| w.strip_prefix("[--"))
        {
            match word.strip_suffix(']') {
                Some(switch) => switches.push(format!("--{switch}")),
                None => valued.push(format!("--{word}")),
            }
        }
        let mut args = Args {
            usage,
            values: HashMap::new(),
            switches: Vec::new(),
            positional: Vec::new(),
        };
        let mut it = std::env::args().skip(1);
        while let Some(arg) = it.next() {
            if arg == "-h" || arg == "--help" {
                println!("usage: {usage}");
                std::process::exit(0);
            } else if valued.contains(&arg) {
                let Some(value) = it.next() else {
                    fail(usage, &format!("{arg} needs a value"))
                };
                args.values.insert(arg, value);
            } else if switches.contains(&arg) {
                args.switches.push(arg);
            } else if arg.starts_with("--") {
                fail(usage, &format!("unknown flag {arg}"));
            } else {
                args.positional.push(arg);
            }
        }
        args
    }

    /// The value of `flag` parsed as `T`, or `default`; a bad value exits with code 2.
    pub fn get<T: FromStr>(&self, flag: &str, default: T) -> T
    where
        T::Err: std::fmt::Display,
    {
        match self.values.get(flag) {
            None => default,
            Some(v) => v
                .parse()
                .unwrap_or_else(|e| fail(self.usage, &format!("{flag} {v:?}: {e}"))),
        }
    }

    /// The value of `flag` parsed as `T`, if given; a bad value exits with code 2.
    pub fn get_opt<T: FromStr>(&self, flag: &str) -> Option<T>
    where
        T::Err: std::fmt::Display,
    {
        let v = self.values.get(flag)?;
        Some(
            v.parse()
                .unwrap_or_else(|e| fail(self.usage, &format!("{flag} {v:?}: {e}"))),
        )
    }

    /// Whether the switch was given.
    pub fn has(&self, switch: &str) -> bool {
        self.switches.iter().any(|s| s == switch)
    }
}

/// Prints the problem and the usage line, and exits with code 2.
pub fn fail(usage: &str, problem: &str) -> ! {
    eprintln!("{problem}\nusage: {usage}");
    std::process::exit(2);
}
