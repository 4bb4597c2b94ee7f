//! `git.verification.publicKeysSecretRef`: the object vendir's checkout
//! names must carry a GPG signature made by one of the Secret's keys
//! (vendir v0.44.0, `pkg/vendir/fetch/git/verification.go`):
//!
//! - an annotated tag is checked as the tag (its commit's own signature does
//!   not count); a branch, a lightweight tag or a sha as the commit;
//! - every value of the Secret is read as armored public keys, and the
//!   signature must verify against those keys alone (no web of trust);
//! - the signed payload is the object without its `PGP SIGNATURE` section,
//!   cut out line by line as vendir does (SHA-1 `gpgsig` only).
//!
//! vendir uses Go's openpgp package; vendoras runs the installed `gpg` with a
//! throwaway home in the runner's temp dir (`--homedir`, `--no-options`,
//! `--no-autostart`: never the user's keyring or agent, no agent started) and
//! reads its machine-readable status lines, not its exit code alone.

use std::path::Path;

use super::super::vcs::{self, Runner};
use crate::error::{Error, Result};

/// What must be signed.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Signed {
    /// A commit, by sha.
    Commit(String),
    /// An annotated tag, by name.
    Tag(String),
}

/// Why a verification failed, in vendir's words where vendir has them.
pub(super) type Refusal = String;

/// Checks `signed` in the repository at `work` against the armored public
/// keys `keys`. `git` runs git there; `gpg` is a runner for `gpg`, whose temp
/// dir becomes the throwaway GPG home.
pub(super) fn verify(
    git: &Runner,
    gpg: &Runner,
    work: &Path,
    signed: &Signed,
    keys: &str,
) -> Result<std::result::Result<(), Refusal>> {
    if keys.trim().is_empty() {
        return Ok(Err(
            "Expected at least one public key, but found 0".to_string()
        ));
    }
    let (kind, object) = match signed {
        Signed::Tag(name) => (
            "tag",
            git.local(work, &["cat-file", "tag", &format!("refs/tags/{name}")]),
        ),
        Signed::Commit(sha) => ("commit", git.local(work, &["cat-file", "commit", sha])),
    };
    let object = match object {
        Ok(o) => o,
        Err(f) => {
            let what = match signed {
                Signed::Tag(n) | Signed::Commit(n) => n,
            };
            return Ok(Err(format!(
                "Reading git object for '{what}': {}",
                f.reason()
            )));
        }
    };
    let Some((payload, signature)) = split_signature(&object, kind == "commit") else {
        return Ok(Err(format!(
            "Expected to find {kind} signature: expected to find section 'PGP SIGNATURE', but \
             did not"
        )));
    };

    let home = gpg.dir().join("gnupg");
    create_private_dir(&home)?;
    let files = gpg.dir();
    let (keys_file, payload_file, sig_file) = (
        files.join("keys.asc"),
        files.join("payload"),
        files.join("payload.asc"),
    );
    vcs::write_private(&keys_file, keys.as_bytes())?;
    vcs::write_private(&payload_file, payload.as_bytes())?;
    vcs::write_private(&sig_file, signature.as_bytes())?;
    let home_arg = home.display().to_string();
    let run = |status: &Path, args: &[&str]| {
        let status_arg = status.display().to_string();
        let mut all = vec![
            "--batch",
            "--no-tty",
            "--no-options",
            "--no-autostart",
            "--homedir",
            &home_arg,
            "--status-file",
            &status_arg,
        ];
        all.extend_from_slice(args);
        let out = gpg.local(files, &all);
        let status = std::fs::read_to_string(status).unwrap_or_default();
        (out, status)
    };

    let keys_arg = keys_file.display().to_string();
    let (out, status) = run(&files.join("import.status"), &["--import", &keys_arg]);
    let imported = status
        .lines()
        .filter(|l| l.starts_with("[GNUPG:] IMPORT_OK "))
        .count();
    if let Err(f) = out {
        if f.status.starts_with("cannot run") {
            return Ok(Err(f.reason()));
        }
        return Ok(Err(format!("Reading armored key ring: {}", f.reason())));
    }
    if imported == 0 {
        return Ok(Err(
            "Expected at least one public key, but found 0".to_string()
        ));
    }

    let (sig_arg, payload_arg) = (
        sig_file.display().to_string(),
        payload_file.display().to_string(),
    );
    let (out, status) = run(
        &files.join("verify.status"),
        &["--verify", &sig_arg, &payload_arg],
    );
    Ok(judge(&status).map_err(|why| match (why, out) {
        (Some(why), _) => format!("Checking signature: {why}"),
        (None, Err(f)) => format!("Checking signature: {}", f.reason()),
        (None, Ok(_)) => "Checking signature: gpg reported no valid signature".to_string(),
    }))
}

/// Accepts exactly a good signature by an imported key (`GOODSIG` and
/// `VALIDSIG`); otherwise says why, when the status lines tell.
fn judge(status: &str) -> std::result::Result<(), Option<String>> {
    let has = |word: &str| {
        status.lines().any(|l| {
            l.strip_prefix("[GNUPG:] ")
                .is_some_and(|r| r.starts_with(word))
        })
    };
    if has("GOODSIG ") && has("VALIDSIG ") {
        return Ok(());
    }
    let why = if has("NO_PUBKEY ") || has("ERRSIG ") {
        // vendir's text (Go's openpgp says "signature made by unknown entity").
        "signature made by unknown entity (hint: provided public key does not match signature)"
    } else if has("BADSIG ") {
        "bad signature: the object does not match what was signed"
    } else if has("EXPKEYSIG ") {
        "signature made by an expired key"
    } else if has("REVKEYSIG ") {
        "signature made by a revoked key"
    } else if has("EXPSIG ") {
        "the signature has expired"
    } else {
        return Err(None);
    };
    Err(Some(why.to_string()))
}

/// Cuts the `PGP SIGNATURE` section out of a tag (its body) or a commit (its
/// `gpgsig` header, continuation lines indented by one space), as vendir's
/// line section reader does: `(payload, armored signature)`, or `None` when
/// there is no complete section.
fn split_signature(object: &str, commit: bool) -> Option<(String, String)> {
    let (start, end) = if commit {
        (
            "gpgsig -----BEGIN PGP SIGNATURE-----",
            " -----END PGP SIGNATURE-----",
        )
    } else {
        (
            "-----BEGIN PGP SIGNATURE-----",
            "-----END PGP SIGNATURE-----",
        )
    };
    let (mut outside, mut section) = (Vec::new(), Vec::new());
    let (mut opened, mut closed) = (false, false);
    for line in object.split('\n') {
        if line == start {
            if opened {
                return None;
            }
            opened = true;
            section.push(line);
        } else if line == end {
            if !opened {
                return None;
            }
            closed = true;
            section.push(line);
        } else if opened && !closed {
            section.push(line);
        } else {
            outside.push(line);
        }
    }
    if !(opened && closed) {
        return None;
    }
    let mut signature = section.join("\n");
    if commit {
        signature = signature["gpgsig ".len()..].replace("\n ", "\n");
    }
    Some((outside.join("\n"), signature))
}

fn create_private_dir(path: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(path)
        .map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIG: &str = "-----BEGIN PGP SIGNATURE-----\n\niQEz\n=abcd\n-----END PGP SIGNATURE-----";

    #[test]
    fn a_commit_signature_is_cut_from_its_header() {
        let indented = SIG.replace('\n', "\n ");
        let commit = format!(
            "tree t\nparent p\nauthor A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\n\
             gpgsig {indented}\n\nsigned commit\n"
        );
        let (payload, sig) = split_signature(&commit, true).unwrap();
        assert_eq!(
            payload,
            "tree t\nparent p\nauthor A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\n\nsigned commit\n"
        );
        assert_eq!(sig, SIG);
    }

    #[test]
    fn a_tag_signature_is_cut_from_its_body() {
        let tag = format!("object o\ntype commit\ntag v1\ntagger T <t@x> 1 +0000\n\nmsg\n{SIG}\n");
        let (payload, sig) = split_signature(&tag, false).unwrap();
        assert_eq!(
            payload,
            "object o\ntype commit\ntag v1\ntagger T <t@x> 1 +0000\n\nmsg\n"
        );
        assert_eq!(sig, SIG);
    }

    #[test]
    fn unsigned_or_broken_objects_have_no_signature() {
        assert_eq!(split_signature("tree t\n\nmsg\n", true), None);
        assert_eq!(split_signature("object o\n\nmsg\n", false), None);
        let open = "object o\n\nmsg\n-----BEGIN PGP SIGNATURE-----\nxx\n";
        assert_eq!(split_signature(open, false), None);
        // A tag's body section is not a commit's header section.
        let tag = format!("object o\n\nmsg\n{SIG}\n");
        assert_eq!(split_signature(&tag, true), None);
    }

    #[test]
    fn only_a_good_and_valid_signature_passes() {
        let good = "[GNUPG:] NEWSIG\n[GNUPG:] GOODSIG 334E Good\n[GNUPG:] VALIDSIG A47A 2026\n";
        assert_eq!(judge(good), Ok(()));
        assert_eq!(judge("[GNUPG:] GOODSIG 334E Good\n"), Err(None));
        let unknown = "[GNUPG:] ERRSIG 334E 1 10 00 1 9\n[GNUPG:] NO_PUBKEY 334E\n";
        assert!(judge(unknown)
            .unwrap_err()
            .unwrap()
            .contains("signature made by unknown entity"));
        assert!(judge("[GNUPG:] BADSIG 334E Good\n")
            .unwrap_err()
            .unwrap()
            .contains("bad signature"));
        assert!(judge("[GNUPG:] EXPKEYSIG 334E x\n[GNUPG:] VALIDSIG A 1\n")
            .unwrap_err()
            .unwrap()
            .contains("expired key"));
    }
}
