//! Integration tests: one target, a module per concern (ripgrep's layout).

mod common;

mod api_robustness;
mod arrow_input;
mod bad_input;
mod cli;
mod compression;
mod console;
mod duals;
mod explain;
mod fairness;
mod flow;
mod gap;
mod generators;
mod http;
mod inequality;
mod jobs_reliability;
mod jobs_result;
mod oracle;
mod parsers;
mod properties;
mod reliability;
mod replicas;
mod sessions;
mod sessions_timed;
mod simulate;
mod statuses;
mod timed;
