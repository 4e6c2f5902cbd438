//! `cargo xtask peer`: the Node.js peer BFF (the one a team would write instead of ours) made ready for
//! `bench --peer`: copied into target/peer/node-bff (its source may be read-only), its packages installed with
//! `npm ci`, and its session cookie names set to ours.
//!
//! The peer mirrors our session format byte for byte, so it opens the sessions our callback writes; only the cookie
//! names moved since it was written (`__Host-bff-session` → `__Host-Http-bff-session`, issue 15), and the copy
//! follows. Nothing else in it is changed.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Our cookie names, as the copy's `src/http.mjs` must spell them.
const RENAMES: [(&str, &str); 2] =
    [("'__Host-bff-session'", "'__Host-Http-bff-session'"), ("'__Host-bff-login-'", "'__Host-Http-bff-login-'")];

/// Copies the peer from `from` into target/peer/node-bff, installs it and answers its `bin` directory.
pub fn prepare(from: &Path) -> Result<PathBuf, String> {
    if !from.join("package-lock.json").is_file() {
        return Err(format!("{}: no Node peer there (package-lock.json missing)", from.display()));
    }
    let to = crate::repo_root().join("target").join("peer").join("node-bff");
    copy_tree(from, &to).map_err(|e| format!("copying {} to {}: {e}", from.display(), to.display()))?;
    let http = to.join("src").join("http.mjs");
    let mut text = std::fs::read_to_string(&http).map_err(|e| format!("{}: {e}", http.display()))?;
    for (theirs, ours) in RENAMES {
        if !text.contains(ours) {
            if !text.contains(theirs) {
                return Err(format!("{}: the cookie name {theirs} is not there to rename", http.display()));
            }
            text = text.replace(theirs, ours);
        }
    }
    std::fs::write(&http, text).map_err(|e| format!("{}: {e}", http.display()))?;
    let st = Command::new("npm")
        .current_dir(&to)
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error", "--omit=dev"])
        .status()
        .map_err(|e| format!("npm: {e}"))?;
    if !st.success() {
        return Err(format!("npm ci in {} failed", to.display()));
    }
    Ok(to.join("bin"))
}

/// Copies `from` over `to`, leaving out installed packages and build outputs; keeps file modes (the `bin` scripts).
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == "node_modules" || name == "dist" {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if entry.file_type()?.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst)?;
        }
    }
    Ok(())
}
