//! Commands the tests run to their end: the `commonsnet` binary, and PostgreSQL's tools for
//! `pg.rs` (which the `replicas` bench includes too, with this file).

use std::ffi::OsStr;
use std::process::{Command, Output};

/// The `commonsnet` binary built for these tests, with no arguments yet.
pub fn commonsnet() -> Command {
    Command::new(env!("CARGO_BIN_EXE_commonsnet"))
}

/// Run `cmd` to its end with its standard output a pipe whose reader is gone (`| head`
/// that has left); its output (standard error captured).
pub fn output_into_closed_pipe(cmd: &mut Command) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    cmd.stdout(writer)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
        .wait_with_output()
        .unwrap()
}

/// Run `cmd` to its end; it must succeed (else the failure names `what` and shows its
/// standard error). Its output.
#[track_caller]
pub fn output_ok(what: &str, cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `commonsnet solve ARGS`, which must succeed; its standard output.
#[track_caller]
pub fn solve_ok(args: &[&dyn AsRef<OsStr>]) -> String {
    run_ok("solve", args)
}

/// `commonsnet COMMAND ARGS`, which must succeed: its standard output.
#[track_caller]
pub fn run_ok(command: &str, args: &[&dyn AsRef<OsStr>]) -> String {
    let out = output_ok(
        command,
        commonsnet()
            .arg(command)
            .args(args.iter().map(|a| a.as_ref())),
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Run `cmd`, a `commonsnet` command given input it must refuse: it exits with code 2 and
/// says why in one line on standard error. Its standard output, and that standard error.
#[track_caller]
pub fn refused_in_one_line(cmd: &mut Command) -> (Vec<u8>, String) {
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    (out.stdout, err)
}
