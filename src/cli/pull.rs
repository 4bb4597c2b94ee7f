//! `vendoras pull`: `oras pull`'s flags, files and output.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use serde::Serialize;
use vendoras::oci::{Descriptor, Platform};
use vendoras::pull::{self, PullOptions, Status};
use vendoras::reference::{split_layout_reference, Reference};
use vendoras::registry::{Credential, Repository};
use vendoras::Op;

#[derive(Args)]
pub struct PullArgs {
    /// `<registry>/<repository>{:<tag>|@<digest>}`, or `<path>[:<tag>|@<digest>]` with --oci-layout
    reference: String,
    /// Output directory
    #[arg(short = 'o', long, default_value = ".")]
    output: PathBuf,
    /// Do not replace existing files when pulling, treat them as errors
    #[arg(short = 'k', long)]
    keep_old_files: bool,
    /// Allow storing files out of the output directory
    #[arg(short = 'T', long)]
    allow_path_traversal: bool,
    /// Request platform in the form of `os[/arch][/variant][:os_version]`
    #[arg(long)]
    platform: Option<Platform>,
    /// Concurrency level
    #[arg(long, default_value_t = 3)]
    concurrency: usize,
    #[command(flatten)]
    remote: super::RemoteArgs,
    /// Registry username
    #[arg(short = 'u', long)]
    username: Option<String>,
    /// Registry password or identity token
    #[arg(short = 'p', long)]
    password: Option<String>,
    /// Read password from stdin
    #[arg(long)]
    password_stdin: bool,
    /// Set target as an OCI image layout
    #[arg(long)]
    oci_layout: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

impl PullArgs {
    /// `--format json`: a failure is printed as JSON too.
    pub(super) fn json(&self) -> bool {
        self.format == Format::Json
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

pub fn run(args: PullArgs, op: &Arc<Op>) -> anyhow::Result<()> {
    let (repo, object, display_name, json_name) = open(&args)?;
    let Some(object) = object else {
        bail!(
            "no tag or digest specified in {:?}: use `{}:<tag>` or `{}@<digest>`",
            args.reference,
            args.reference,
            args.reference
        );
    };
    let mut opts = PullOptions::new(args.output.clone());
    opts.keep_old_files = args.keep_old_files;
    opts.allow_path_traversal = args.allow_path_traversal;
    opts.platform = args.platform.clone();
    opts.concurrency = args.concurrency.max(1);
    let text = args.format == Format::Text;
    let printer = |status: Status, desc: &Descriptor| {
        if text {
            let name = desc.title().unwrap_or(&desc.media_type);
            println!(
                "{} {} {}",
                status.prompt(),
                desc.digest.short(),
                super::shown(name)
            );
        }
    };
    let report = pull::pull(&repo, &object, &opts, op, &printer)
        .with_context(|| format!("pull {}", args.reference))?;

    match args.format {
        Format::Text if report.skipped_untitled => {
            println!(
                "Skipped pulling layers without file name in \"org.opencontainers.image.title\""
            );
            println!(
                "Use 'oras copy {} --to-oci-layout <layout-dir>' to pull all layers.",
                args.reference
            );
        }
        Format::Text => {
            println!("Pulled {display_name}");
            println!("Digest: {}", report.root.digest);
        }
        Format::Json => {
            let out = JsonPull {
                reference: format!("{json_name}@{}", report.root.digest),
                files: report
                    .files
                    .iter()
                    .map(|f| JsonFile {
                        path: f.path.clone(),
                        reference: format!("{json_name}@{}", f.descriptor.digest),
                        descriptor: &f.descriptor,
                    })
                    .collect(),
            };
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct JsonPull<'a> {
    reference: String,
    files: Vec<JsonFile<'a>>,
}

#[derive(Serialize)]
struct JsonFile<'a> {
    path: String,
    reference: String,
    #[serde(flatten)]
    descriptor: &'a Descriptor,
}

/// Opens the target; returns it with the object to resolve, the display
/// name (`[registry] ref`) and the name used in JSON references.
fn open(args: &PullArgs) -> anyhow::Result<(Repository, Option<String>, String, String)> {
    if args.oci_layout {
        let (path, object) = split_layout_reference(&args.reference)?;
        let path = PathBuf::from(path);
        if !path.exists() {
            bail!(
                "invalid argument {:?}: failed to find path {:?}",
                args.reference,
                path.display().to_string()
            );
        }
        let repo = Repository::open_layout(&path)?;
        let display = format!("[oci-layout] {}", args.reference);
        return Ok((repo, object, display, path.display().to_string()));
    }
    let reference: Reference = args.reference.parse()?;
    let mut password = args.password.clone();
    if args.password_stdin {
        if password.is_some() {
            bail!("--password and --password-stdin cannot be used together");
        }
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("read password from stdin")?;
        password = Some(s.trim_end_matches(['\n', '\r']).to_string());
    } else if args.username.is_some() && password.is_none() {
        bail!("--username needs --password or --password-stdin");
    }
    let credential = match (&args.username, password) {
        (None, None) => None,
        (user, Some(pass)) if user.as_deref().unwrap_or("").is_empty() => Some(Credential {
            // oras: a password without a user name is an identity token.
            refresh_token: pass,
            ..Credential::default()
        }),
        (user, pass) => Some(Credential {
            username: user.clone().unwrap_or_default(),
            password: pass.unwrap_or_default(),
            ..Credential::default()
        }),
    };
    let options = args.remote.options(credential)?;
    let repo_url = reference.repository_url();
    let repo = Repository::open_remote(&repo_url, &options)?;
    let display = format!("[registry] {}", args.reference);
    Ok((repo, reference.object(), display, repo_url))
}
