//! Coverage as an lcov tracefile, for CI tools and `genhtml`: rules and hooks are its
//! functions, each arm of a branching statement a branch, statements its lines.

use super::{Coverage, Function};
use std::collections::HashMap;

/// The tracefile: one record per dialplan file.
pub fn tracefile(coverage: &Coverage) -> String {
    let mut out = String::new();
    for file in &coverage.files {
        out += &format!("TN:\nSF:{}\n", file.path);
        let functions: Vec<&Function> = file.rules.iter().chain(&file.hooks).collect();
        let names = unique_names(&functions);
        for (f, name) in functions.iter().zip(&names) {
            out += &format!("FN:{},{name}\n", f.line);
        }
        for (f, name) in functions.iter().zip(&names) {
            out += &format!("FNDA:{},{name}\n", f.hits);
        }
        let ran = functions.iter().filter(|f| f.hits > 0).count();
        out += &format!("FNF:{}\nFNH:{ran}\n", functions.len());
        for (block, b) in file.branches.iter().enumerate() {
            for (arm, (_, taken)) in b.arms.iter().enumerate() {
                // `-`: the statement never ran, so neither way was open.
                let taken = if b.reached == 0 {
                    "-".to_string()
                } else {
                    taken.to_string()
                };
                out += &format!("BRDA:{},{block},{arm},{taken}\n", b.line);
            }
        }
        let branches = file.branch_ratio();
        out += &format!("BRF:{}\nBRH:{}\n", branches.total, branches.covered);
        for (line, hits) in &file.lines {
            out += &format!("DA:{line},{hits}\n");
        }
        let lines = file.line_ratio();
        out += &format!("LF:{}\nLH:{}\nend_of_record\n", lines.total, lines.covered);
    }
    out
}

/// Function names, a line added to any head the file has twice (lcov keys by name).
fn unique_names(functions: &[&Function]) -> Vec<String> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for f in functions {
        *seen.entry(f.name.as_str()).or_insert(0) += 1;
    }
    functions
        .iter()
        .map(|f| match seen[f.name.as_str()] {
            1 => f.name.clone(),
            _ => format!("{} (line {})", f.name, f.line),
        })
        .collect()
}
