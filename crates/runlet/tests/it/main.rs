//! Whole-system tests: each starts the real `runlet` binary on a loopback port with its own
//! data directory and drives it with genuine kubectl, the official Python client, or kube-rs.
//! One test binary for the crate (see STYLE.md rule 10).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod agent;
mod badinput;
mod cli;
mod console;
mod crash;
mod e2e_cron;
mod e2e_jobs;
mod examples;
mod exec;
mod harness;
mod kubectl;
mod logs;
mod probes;
mod python;
mod run;
mod scenarios;
mod serviceaccounts;
mod volumes;
