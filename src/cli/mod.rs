//! Argument parsing and the shared error/exit-code convention.
//!
//! Exit codes: 0 success, 1 any failure (`vendoras: Error: ...` on stderr),
//! 130 when interrupted by Ctrl-C or SIGTERM. With `sync --json` or
//! `pull --format json`, a failure also prints `{"error": {...}}` on stdout
//! (the fields of [`vendoras::Error::to_json`]; README, "Errors").

mod outdated;
mod pull;
mod sync;
mod update;
mod verify;

use std::process::ExitCode;
use std::sync::Arc;

use clap::{CommandFactory, Parser, Subcommand};
use vendoras::{signal, Op};

#[derive(Parser)]
#[command(
    name = "vendoras",
    version,
    about = "Vendor OCI artifacts into a directory tree, vendir-style"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sync the directories vendir.yml names (vendir's `sync`)
    Sync(sync::SyncArgs),
    /// Show contents whose tag, ref or version has a newer release (like `npm outdated`)
    Outdated(outdated::OutdatedArgs),
    /// Move references in vendir.yml (edited in place), then sync and relock just those contents
    Update(update::UpdateArgs),
    /// Pull files from a registry or an OCI image layout, exactly as `oras pull` does
    Pull(pull::PullArgs),
    /// Verify a reference's cosign signature (as `cosign verify`)
    Verify(verify::VerifyArgs),
    /// Print the version
    Version,
    /// Print a shell completion script
    Completion {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
    /// Write files generated from these definitions (for `make install`)
    #[command(hide = true)]
    Generate {
        #[command(subcommand)]
        what: Generate,
    },
}

#[derive(Subcommand)]
enum Generate {
    /// One man page per command (vendoras.1, vendoras-sync.1, ...) into DIR
    Man { dir: std::path::PathBuf },
}

pub fn run() -> ExitCode {
    // Usage errors exit 1, as oras's do; --help and --version exit 0.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            let text = e.render().to_string();
            eprint!(
                "vendoras: Error: {}",
                text.strip_prefix("error: ").unwrap_or(&text)
            );
            return ExitCode::FAILURE;
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    let op = Arc::new(Op::new());
    {
        let op = Arc::clone(&op);
        if let Err(e) = signal::on_interrupt(move |_| op.cancel()) {
            eprintln!("vendoras: warning: cannot handle Ctrl-C: {e}");
        }
    }
    let json = match &cli.command {
        Command::Sync(args) => args.json,
        Command::Outdated(args) => args.json,
        Command::Pull(args) => args.json(),
        _ => false,
    };
    let result = match cli.command {
        Command::Pull(args) => pull::run(args, &op),
        Command::Sync(args) => sync::run(args, &op),
        Command::Update(args) => update::run(args, &op),
        Command::Outdated(args) => match outdated::run(args, &op) {
            Ok(true) => return ExitCode::FAILURE,
            other => other.map(|_| ()),
        },
        Command::Verify(args) => verify::run(args, &op),
        Command::Version => {
            println!("vendoras {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Completion { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "vendoras",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::Generate {
            what: Generate::Man { dir },
        } => clap_mangen::generate_to(Cli::command(), &dir)
            .map_err(|e| anyhow::anyhow!("writing man pages into {}: {e}", dir.display())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if json {
                println!("{}", json_error(&e, op.is_cancelled()));
            }
            if op.is_cancelled()
                || e.downcast_ref::<vendoras::Error>()
                    .is_some_and(|e| e.is_cancelled())
            {
                eprintln!("vendoras: interrupted; nothing from this run was kept");
                return ExitCode::from(130);
            }
            eprintln!("vendoras: Error: {}", shown(&chain(&e)));
            ExitCode::FAILURE
        }
    }
}

/// The transport flags `oras` commands share (and so `pull` and `verify`).
#[derive(clap::Args)]
pub struct RemoteArgs {
    /// Allow insecure connections to registry without SSL check
    #[arg(long)]
    pub(crate) plain_http: bool,
    /// Allow connections to SSL registry without certs
    #[arg(long)]
    pub(crate) insecure: bool,
    /// Server certificate authority file for the remote registry
    #[arg(long = "ca-file")]
    pub(crate) ca_files: Vec<std::path::PathBuf>,
    /// Path of the authentication file for the registry
    #[arg(long = "registry-config")]
    pub(crate) registry_configs: Vec<std::path::PathBuf>,
    /// Abandon (then retry) a transfer that makes no progress for this long, e.g. 60s, 2m [default: $VENDORAS_STALL_TIMEOUT or 60s]
    #[arg(long, value_name = "DURATION", value_parser = vendoras::registry::parse_stall_timeout)]
    stall_timeout: Option<std::time::Duration>,
    /// Mirrors file (registries.conf v2 [[registry]] tables) [default: $VENDORAS_MIRRORS]
    #[arg(long, value_name = "FILE")]
    mirrors: Option<std::path::PathBuf>,
}

/// The mirrors file of `--mirrors`, else of `$VENDORAS_MIRRORS`; `None`
/// when neither names one.
pub fn load_mirrors(
    flag: Option<&std::path::Path>,
) -> anyhow::Result<Option<std::sync::Arc<vendoras::mirrors::Mirrors>>> {
    let m = vendoras::mirrors::Mirrors::from_flag_or_env(flag)
        .map_err(|e| vendoras::Error::from(*e))?;
    Ok((!m.is_empty()).then(|| std::sync::Arc::new(m)))
}

impl RemoteArgs {
    /// The registry options these flags (and `$VENDORAS_STALL_TIMEOUT`)
    /// ask for.
    pub fn options(
        &self,
        credential: Option<vendoras::registry::Credential>,
    ) -> anyhow::Result<vendoras::registry::RemoteOptions> {
        let mut options = vendoras::registry::RemoteOptions::default();
        options.plain_http = self.plain_http.then_some(true);
        options.insecure = self.insecure;
        options.ca_files = self.ca_files.clone();
        options.credential = credential;
        options.registry_configs = self.registry_configs.clone();
        options.stall_timeout = match self.stall_timeout {
            Some(t) => Some(t),
            None => vendoras::registry::stall_timeout_from_env()?,
        };
        options.mirrors = load_mirrors(self.mirrors.as_deref())?;
        Ok(options)
    }
}

/// `{"error": {...}}` for a failed command: the library error's fields
/// (the first [`vendoras::Error`] in the chain), with `message` the very
/// text printed after `vendoras: Error: ` on stderr. Errors from the command
/// line itself (bad flag values, unreadable stdin) are `kind: "usage"`.
fn json_error(e: &anyhow::Error, cancelled: bool) -> String {
    let fields = if cancelled {
        vendoras::Error::Cancelled.to_json()
    } else {
        let mut fields = match e.chain().find_map(|c| c.downcast_ref::<vendoras::Error>()) {
            Some(v) => v.to_json(),
            None => serde_json::json!({ "kind": "usage" }),
        };
        fields["message"] = chain(e).into();
        fields
    };
    serde_json::to_string_pretty(&serde_json::json!({ "error": fields }))
        .expect("JSON values serialise")
}

/// `outer: inner: innermost`, skipping causes already in the outer text.
/// A [`vendoras::Error`] renders its own chain (src/error.rs), so the
/// causes beneath it are not repeated (a 401 replaces oras-go's words).
fn chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let c = cause.to_string();
        if !out.contains(&c) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&c);
        }
        if cause.is::<vendoras::Error>() {
            break;
        }
    }
    out
}

/// `text` as the terminal may show it: remote names inside it (entry names,
/// tags, URLs, release notes, chart metadata) with their control and
/// invisible characters escaped, line by line so that the message's own
/// line breaks stay.
pub(crate) fn shown(text: &str) -> String {
    text.split('\n')
        .map(vendoras::redact::escape)
        .collect::<Vec<_>>()
        .join("\n")
}
