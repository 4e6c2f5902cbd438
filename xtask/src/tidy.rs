//! Tidy checks run as tests (in the spirit of rust-analyzer's `tidy`): the flow crate's layering as ARCHITECTURE.md
//! draws it. Every top-level module of `shared/src` sits on one layer of the line that starts with `**Layers**`;
//! a module may name (`crate::<module>`) only modules on lower layers. Same-layer imports are refused too, so no two
//! modules import each other.

use std::collections::HashMap;
use std::path::Path;

/// The layers, top first, as ARCHITECTURE.md's `**Layers**` line lists them (backticked names; `→` between layers).
pub fn layers(architecture: &str) -> Result<Vec<Vec<String>>, String> {
    let line = architecture.lines().find(|l| l.starts_with("**Layers**")).ok_or("no **Layers** line")?;
    let after = line.split_once(':').map_or(line, |(_, rest)| rest);
    let layers: Vec<Vec<String>> = after
        .split('→')
        .map(|group| group.split('`').skip(1).step_by(2).map(String::from).collect::<Vec<_>>())
        .filter(|g| !g.is_empty())
        .collect();
    if layers.len() < 2 { Err("the **Layers** line names fewer than two layers".into()) } else { Ok(layers) }
}

/// The modules a source file names through `crate::<module>` (macros, `crate::name!`, and comments excluded).
pub fn crate_imports(source: &str) -> Vec<String> {
    let mut out = vec![];
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let name: String = after.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
            let is_macro = after[name.len()..].starts_with('!');
            if !name.is_empty() && !is_macro {
                out.push(name.clone());
            }
            rest = &after[name.len()..];
        }
    }
    out
}

/// Every import in `src` (the flow crate's sources) that does not point to a lower layer, as
/// `file: module → imported`; and every top-level module that is on no layer.
pub fn upward_imports(src: &Path, layers: &[Vec<String>]) -> Result<Vec<String>, String> {
    let layer: HashMap<&str, usize> =
        layers.iter().enumerate().flat_map(|(i, g)| g.iter().map(move |m| (m.as_str(), i))).collect();
    let mut problems = vec![];
    let mut files = vec![];
    collect(src, &mut files).map_err(|e| format!("{}: {e}", src.display()))?;
    for file in files {
        let rel = file.strip_prefix(src).expect("under src");
        let top = rel.components().next().expect("a path").as_os_str().to_string_lossy();
        let module = top.trim_end_matches(".rs");
        if module == "lib" {
            continue;
        }
        let Some(&own) = layer.get(module) else {
            problems.push(format!("{module} (shared/src/{}) is on no layer of ARCHITECTURE.md", rel.display()));
            continue;
        };
        let source = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        for imported in crate_imports(&source) {
            if imported == module {
                continue;
            }
            match layer.get(imported.as_str()) {
                Some(&l) if l > own => {}
                _ => problems.push(format!("shared/src/{}: {module} → {imported}", rel.display())),
            }
        }
    }
    problems.sort();
    problems.dedup();
    Ok(problems)
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flow_crate_imports_only_downwards_as_architecture_md_draws_it() {
        let root = crate::repo_root();
        let architecture = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
        let layers = layers(&architecture).unwrap();
        let problems = upward_imports(&root.join("shared/src"), &layers).unwrap();
        assert!(problems.is_empty(), "imports that do not point down ({}):\n{}", problems.len(), problems.join("\n"));
    }

    #[test]
    fn the_check_sees_an_upward_import_a_same_layer_one_and_ignores_macros_and_comments() {
        let layers = layers("**Layers**, top to bottom: `routes` → `session` `login` → `time`").unwrap();
        assert_eq!(layers, [vec!["routes"], vec!["session", "login"], vec!["time"]]);
        let src =
            "use crate::time::UnixTime;\ncrate::redacted_debug!(X);\n// crate::routes::x\nlet a = crate::routes::y;";
        assert_eq!(crate_imports(src), ["time", "routes"]);
        let dir = std::env::temp_dir().join(format!("tidy-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("session")).unwrap();
        std::fs::write(dir.join("session/mod.rs"), "use crate::routes::x;\nuse crate::login::y;\nuse crate::time::z;")
            .unwrap();
        std::fs::write(dir.join("time.rs"), "").unwrap();
        std::fs::write(dir.join("extra.rs"), "").unwrap();
        let found = upward_imports(&dir, &layers).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found.iter().any(|p| p.ends_with("session → routes")), "{found:?}");
        assert!(found.iter().any(|p| p.ends_with("session → login")), "{found:?}");
        assert!(found.iter().any(|p| p.starts_with("extra")), "{found:?}");
    }
}
