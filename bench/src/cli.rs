//! The command line (`bench --help`).

use clap::{Parser, ValueEnum};
use std::path::PathBuf;

/// The benchmark suite of the BFF: cold start, memory, proxy hot path, refresh, throughput, scale and size of the six
/// functions, printed as Markdown (the figures in BENCHMARKS.md).
#[derive(Parser, Debug)]
#[command(name = "bench")]
pub struct Cli {
    /// The sections to run, always in the order listed here whatever the order given [default: all]
    #[arg(value_enum)]
    sections: Vec<Section>,
    /// Cold starts per function (plus one unreported warm-up run)
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub runs: usize,
    /// Proxied calls of the proxy hot path (each way: through the BFF and direct)
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub calls: usize,
    /// Sequential invocations per function for the peak-RSS and warm-latency table
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub load: usize,
    /// Also write the report to FILE (it is always printed on standard output)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Skip `cargo build --release` of the functions and `cargo lambda build` of the zips: measure what is built
    #[arg(long)]
    pub no_build: bool,
    /// Run the functions' binaries from DIR instead of target/release (e.g. an older build's, to measure it side by
    /// side with the current one); the functions are then not built (the arm64 zips of `size` still are)
    #[arg(long, value_name = "DIR")]
    pub bin_dir: Option<PathBuf>,
    /// The Node.js peer's function executables (e.g. target/peer/node-bff/bin, as `make bench` prepares them):
    /// cold, memory and proxy also run against them, each right after ours, and the report sets both side by side
    #[arg(long, value_name = "DIR")]
    pub peer: Option<PathBuf>,
}

/// One section of the report.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    /// Every section below
    All,
    /// Cold start of each function (runtime-API harness)
    Cold,
    /// Peak memory and warm latency of each function (runtime-API harness)
    Memory,
    /// The proxy hot path against a direct API call, CPU and DynamoDB/identity-server calls per request
    Proxy,
    /// The refresh path, counted
    Refresh,
    /// wrk through `cargo lambda watch --release`, and latency against response size
    Throughput,
    /// 1, 20 and 50 MB answers streamed through `cargo lambda watch --release` against the emulator directly
    Stream,
    /// Concurrent refresh of 50 expired sessions over four runtimes
    Scale,
    /// The proxy serving several invocations at once in one process (Lambda Managed Instances) against one at a time
    Managed,
    /// The proxy with the instance registry off, and on with 1 and 100 registered instances (a stack of its own)
    Instances,
    /// arm64 binary and zip sizes (`cargo lambda build --release --arm64`)
    Size,
}

impl Section {
    /// The name on the command line.
    pub fn name(self) -> String {
        self.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default()
    }
}

impl Cli {
    /// The selected sections, `all` expanded, in the report's order, each once.
    pub fn sections(&self) -> Vec<Section> {
        let mut s: Vec<Section> = if self.sections.is_empty() || self.sections.contains(&Section::All) {
            Section::value_variants().iter().copied().filter(|s| *s != Section::All).collect()
        } else {
            self.sections.clone()
        };
        s.sort();
        s.dedup();
        s
    }

    pub fn has(&self, s: Section) -> bool {
        self.sections().contains(&s)
    }

    /// Whether to `cargo build --release` the functions first (`--bin-dir` measures another build as it is).
    pub fn build_functions(&self) -> bool {
        !self.no_build && self.bin_dir.is_none()
    }

    /// Whether `size` runs `cargo lambda build` first.
    pub fn build_zips(&self) -> bool {
        !self.no_build
    }
}

#[cfg(test)]
mod unit_tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("bench").chain(args.iter().copied())).expect("parses")
    }

    #[test]
    fn the_parser_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_section_or_all_is_every_section_with_the_old_defaults() {
        let every =
            ["cold", "memory", "proxy", "refresh", "throughput", "stream", "scale", "managed", "instances", "size"];
        for args in [&[][..], &["all"], &["size", "all"]] {
            let cli = parse(args);
            assert_eq!(cli.sections().iter().map(|s| s.name()).collect::<Vec<_>>(), every);
            assert_eq!((cli.runs, cli.calls, cli.load), (20, 1000, 1000));
            assert!(cli.build_functions() && cli.build_zips() && cli.out.is_none());
        }
    }

    #[test]
    fn sections_run_once_in_the_reports_order() {
        let cli = parse(&["size", "cold", "size", "--runs", "3", "--load", "50", "--calls", "7"]);
        assert_eq!(cli.sections(), [Section::Cold, Section::Size]);
        assert!(cli.has(Section::Cold) && !cli.has(Section::Memory));
        assert_eq!((cli.runs, cli.calls, cli.load), (3, 7, 50));
    }

    #[test]
    fn bin_dir_skips_the_functions_build_only_and_no_build_skips_both() {
        let cli = parse(&["cold", "--bin-dir", "target/old/release", "--out", "r.md"]);
        assert_eq!(cli.bin_dir.as_deref(), Some(std::path::Path::new("target/old/release")));
        assert!(!cli.build_functions() && cli.build_zips());
        let cli = parse(&["--no-build"]);
        assert!(!cli.build_functions() && !cli.build_zips());
    }

    #[test]
    fn peer_names_the_peers_directory() {
        let cli = parse(&["cold", "--peer", "target/peer/node-bff/bin"]);
        assert_eq!(cli.peer.as_deref(), Some(std::path::Path::new("target/peer/node-bff/bin")));
        assert!(parse(&[]).peer.is_none());
    }

    #[test]
    fn unknown_sections_and_flags_are_refused() {
        for args in [&["colds"][..], &["--runs"], &["--runs", "x"], &["--fast"]] {
            assert!(Cli::try_parse_from(std::iter::once("bench").chain(args.iter().copied())).is_err(), "{args:?}");
        }
    }
}
