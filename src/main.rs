//! `commonsnet`: the command-line front end over the engine and the dataset readers. Each
//! subcommand lives in its own module under `commands/`; this file parses and reports.

mod commands;

use clap::{Parser, Subcommand};
use commands::{generate, instance, serve, simulate, solve, ArgError};
use std::process::ExitCode;

/// mimalloc keeps freed pages for reuse where glibc's malloc gives every block above its
/// mmap threshold back to the kernel on free: a fair session's re-plan allocates and frees
/// per-link arrays of megabytes at each LP stage, and the kernel zeroed each page again.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in the mimalloc v3 `mimalloc.h` that libmimalloc-sys builds (it
/// names no constant for it); `purge_delay_is_option_15` checks its default.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long mimalloc keeps freed pages before it gives them back. Its default, 1 s, is
/// shorter than a max-min re-plan of a big session, whose stages' arrays then still faulted
/// in afresh and were zeroed by the kernel at every event.
const PURGE_DELAY_MS: std::ffi::c_long = 5_000;

/// Turns transparent huge pages off for this process unless `MIMALLOC_ALLOW_THP` is set
/// (mimalloc's own switch, which then decides). mimalloc asks for huge pages on its arenas,
/// and the kernel zeroes a whole 2 MiB page at its first touch: on the 2-core virtual
/// machines we measure on that was up to 39% of a NETGEN-SR 2^14 run, and the solve times
/// with huge pages spread over a factor of three (benches/RESULTS.md, "Huge pages off").
/// Set before anything large is allocated: the flag also covers the arena mimalloc reserved
/// at start-up, since the kernel reads it at each page fault.
fn no_huge_pages() {
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
        return;
    }
    #[cfg(target_os = "linux")]
    // SAFETY: `prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0)` passes integers only, no pointer: it
    // sets a flag of this process that the kernel reads when it maps a page. A kernel without
    // the call answers -1 and changes nothing, which leaves huge pages as they were.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[derive(Parser)]
#[command(
    name = "commonsnet",
    version,
    about = "Allocation engine for shared community resources and crisis response"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Solve a scenario or a benchmark instance; prints one JSON object per instance.
    Solve(solve::SolveArgs),
    /// Write a synthetic scenario from one of the pilot generators (urban, rural,
    /// intentional, disaster).
    Generate(generate::GenerateArgs),
    /// Run the HTTP service (SPEC section 4).
    Serve(serve::ServeArgs),
    /// Batch simulation (SPEC section 5): scenarios x policies x replicates on all cores.
    Simulate(simulate::SimulateArgs),
    /// Write a seeded benchmark instance as DIMACS text (the peer comparison's workloads).
    Instance(instance::InstanceArgs),
}

fn main() -> ExitCode {
    no_huge_pages();
    // SAFETY: `mi_option_set` stores an integer in mimalloc's option table; it takes no
    // pointer, and mimalloc documents options as settable at any time, before or after
    // allocations, from any thread.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => match std::error::Error::source(&e).and_then(|s| s.downcast_ref::<ArgError>()) {
            // Our typed arguments' refusals read like every other error of ours, after the
            // argument's name (`--threads 0` said only `"0" is not a thread count`).
            Some(why) => {
                let arg = e.get(clap::error::ContextKind::InvalidArg);
                let flag = arg
                    .map(|a| a.to_string())
                    .and_then(|a| a.split_whitespace().next().map(str::to_string));
                // A positional argument's name is its placeholder (`<NAME>`): the value is
                // named in the message already.
                return match flag {
                    Some(f) if f.starts_with('-') && !why.0.starts_with(&f) => {
                        fail(format!("{f}: {why}"))
                    }
                    _ => fail(why),
                };
            }
            None => e.exit(),
        },
    };
    let result = match cli.command {
        Command::Solve(args) => solve::run(&args),
        Command::Generate(args) => generate::run(&args),
        Command::Serve(args) => serve::run(args),
        Command::Simulate(args) => simulate::run(&args),
        Command::Instance(args) => instance::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(one_line(&e)),
    }
}

/// Every failure: one line on stderr, exit code 2.
fn fail(e: impl std::fmt::Display) -> ExitCode {
    use std::io::Write;
    let msg = e.to_string().replace('\n', " ");
    // Not `eprintln!`: it panics (exit 101) when stderr is a closed pipe.
    let _ = writeln!(std::io::stderr(), "error: {msg}");
    ExitCode::from(2)
}

/// An error and its causes as one line, each cause once: errors that name their source in
/// their own message (`data directory DIR: {source}`) would say it again as the next cause
/// (a read-only data folder said "Read-only file system (os error 30)" twice, a damaged
/// database "file is not a database" four times).
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    /// Each cause once: an error that names its source in its message does not say it again.
    #[test]
    fn an_error_says_each_cause_once() {
        let io = std::io::Error::from(std::io::ErrorKind::ReadOnlyFilesystem);
        let serve = commonsnet_api::ServeError::DataDir {
            path: "data".into(),
            source: io,
        };
        let e = anyhow::Error::new(serve).context("cannot start the service");
        let line = super::one_line(&e);
        assert_eq!(line.matches("read-only").count(), 1, "{line}");
        assert!(
            line.starts_with("cannot start the service: data directory data: "),
            "{line}"
        );
        let plain = anyhow::anyhow!("outer").context("context");
        assert_eq!(super::one_line(&plain), "context: outer");
    }
    /// Option 15 is the purge delay: its default is mimalloc v3's 1,000 ms (no option near it
    /// defaults to that).
    #[test]
    fn purge_delay_is_option_15() {
        // SAFETY: `mi_option_get` reads an integer from mimalloc's option table; no pointer.
        let default = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        assert_eq!(default, 1000);
    }

    /// The kernel reports huge pages off for the process once `no_huge_pages` ran (unless
    /// the environment asks mimalloc to decide).
    #[cfg(target_os = "linux")]
    #[test]
    fn huge_pages_are_off() {
        if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
            return;
        }
        super::no_huge_pages();
        // SAFETY: `prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0)` passes integers only and returns
        // the process's flag.
        let off = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
        assert_eq!(off, 1);
    }
}
