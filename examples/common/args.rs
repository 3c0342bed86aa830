//! The examples' command lines, parsed with `lexopt` against the flags each example's usage
//! line shows (`[--port 9999]` takes a value, `[--quiet]` does not). `-h`/`--help` prints what
//! the example does and its usage on stdout and exits 0; a bad command line prints the problem
//! and the usage on stderr and exits 2.
#![allow(dead_code)] // each example uses part of it

use std::collections::HashMap;
use std::str::FromStr;

use lexopt::prelude::*;

/// Flags given on the command line, checked against the ones an example knows.
pub struct Args {
    usage: &'static str,
    values: HashMap<String, String>,
    switches: Vec<String>,
    pub positional: Vec<String>,
}

impl Args {
    /// Parses the command line against the flags `usage` shows; `about` says what the example
    /// does, for `--help`.
    pub fn parse(about: &str, usage: &'static str) -> Args {
        let (mut valued, mut switches) = (Vec::new(), Vec::new());
        for word in usage
            .split_whitespace()
            .filter_map(|w| w.strip_prefix("[--"))
        {
            match word.strip_suffix(']') {
                Some(switch) => switches.push(switch.to_string()),
                None => valued.push(word.to_string()),
            }
        }
        let mut args = Args {
            usage,
            values: HashMap::new(),
            switches: Vec::new(),
            positional: Vec::new(),
        };
        let mut parser = lexopt::Parser::from_env();
        loop {
            let arg = match parser.next() {
                Ok(Some(arg)) => arg,
                Ok(None) => break,
                Err(e) => fail(usage, &e.to_string()),
            };
            match arg {
                Short('h') | Long("help") => {
                    println!("{about}\n\nusage: {usage}");
                    std::process::exit(0);
                }
                Long(flag) if valued.iter().any(|v| v == flag) => {
                    let flag = format!("--{flag}");
                    match parser.value() {
                        Ok(value) => {
                            let value = value.string().unwrap_or_else(|_| {
                                fail(usage, &format!("{flag} needs a UTF-8 value"))
                            });
                            args.values.insert(flag, value);
                        }
                        Err(_) => fail(usage, &format!("{flag} needs a value")),
                    }
                }
                Long(flag) if switches.iter().any(|s| s == flag) => {
                    args.switches.push(format!("--{flag}"))
                }
                Value(value) => match value.string() {
                    Ok(value) => args.positional.push(value),
                    Err(_) => fail(usage, "arguments must be UTF-8"),
                },
                other => fail(usage, &other.unexpected().to_string()),
            }
        }
        args
    }

    /// The value of `flag` parsed as `T`, or `default`; a bad value exits with code 2.
    pub fn get<T: FromStr>(&self, flag: &str, default: T) -> T
    where
        T::Err: std::fmt::Display,
    {
        self.get_opt(flag).unwrap_or(default)
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

/// Prints the problem and the usage line on stderr, and exits with code 2.
pub fn fail(usage: &str, problem: &str) -> ! {
    eprintln!("{problem}\nusage: {usage}");
    std::process::exit(2);
}
