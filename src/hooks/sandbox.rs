//! The Rhai engine hooks run in: Rhai's standard library without its clock, its
//! `sleep` or its `exit`, with bounded operations, depth, sizes and wall time, and no
//! modules, `eval`, printing, files, network or processes.
//!
//! A hook gets the time the engine was given (`now`), never the host's clock, so a
//! replay decides as production did. The wall-time bound is only a guard for a host
//! too busy to run the operation budget promptly; a hook cannot read it.

use rhai::packages::{
    ArithmeticPackage, BasicArrayPackage, BasicBlobPackage, BasicFnPackage, BasicIteratorPackage,
    BasicMapPackage, BasicMathPackage, BasicStringPackage, BitFieldPackage, LogicPackage,
    MoreStringPackage, Package,
};
use std::cell::Cell;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// What one hook call may spend.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Rhai operations (each expression, statement and call counts).
    pub operations: u64,
    /// Wall time, checked as operations run.
    pub wall: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            operations: 50_000,
            wall: Duration::from_millis(250),
        }
    }
}

const MAX_CALL_LEVELS: usize = 16;
const MAX_EXPR_DEPTH: usize = 64;
const MAX_FN_EXPR_DEPTH: usize = 32;
const MAX_STRING: usize = 4_096;
const MAX_ARRAY: usize = 1_024;
const MAX_MAP: usize = 256;
/// How many operations run between two looks at the wall clock.
const WALL_CHECK_EVERY: u64 = 256;

thread_local! {
    /// When the hook running on this thread must stop; set around each call.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Runs `f` (one hook evaluation) with the wall-time bound armed.
pub fn with_deadline<T>(limits: Limits, f: impl FnOnce() -> T) -> T {
    DEADLINE.with(|d| d.set(Some(Instant::now() + limits.wall)));
    let result = f();
    DEADLINE.with(|d| d.set(None));
    result
}

/// A Rhai engine with the sandbox's library and limits.
pub fn engine(limits: Limits) -> rhai::Engine {
    let mut engine = rhai::Engine::new_raw();
    // The standard library minus LanguageCorePackage (sleep, exit) and the time package.
    for package in [
        ArithmeticPackage::new().as_shared_module(),
        BasicStringPackage::new().as_shared_module(),
        BasicIteratorPackage::new().as_shared_module(),
        BasicFnPackage::new().as_shared_module(),
        BitFieldPackage::new().as_shared_module(),
        LogicPackage::new().as_shared_module(),
        BasicMathPackage::new().as_shared_module(),
        BasicArrayPackage::new().as_shared_module(),
        BasicBlobPackage::new().as_shared_module(),
        BasicMapPackage::new().as_shared_module(),
        MoreStringPackage::new().as_shared_module(),
    ] {
        engine.register_global_module(package);
    }
    engine.set_max_operations(limits.operations);
    engine.set_max_call_levels(MAX_CALL_LEVELS);
    engine.set_max_expr_depths(MAX_EXPR_DEPTH, MAX_FN_EXPR_DEPTH);
    engine.set_max_string_size(MAX_STRING);
    engine.set_max_array_size(MAX_ARRAY);
    engine.set_max_map_size(MAX_MAP);
    engine.set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());
    engine.disable_symbol("eval");
    // Hooks may not write to the server's stdout; print and debug are dropped.
    engine.on_print(|_| {});
    engine.on_debug(|_, _, _| {});
    let wall = limits.wall;
    engine.on_progress(move |operations| {
        if operations % WALL_CHECK_EVERY != 0 {
            return None;
        }
        let late = DEADLINE.with(|d| d.get().is_some_and(|at| Instant::now() > at));
        late.then(|| format!("the hook ran longer than {} ms", wall.as_millis()).into())
    });
    engine
}

/// Names a hook may call besides the library's functions: Rhai's own keywords.
const KEYWORD_CALLS: [&str; 9] = [
    "Fn",
    "call",
    "curry",
    "is_shared",
    "is_def_fn",
    "is_def_var",
    "type_of",
    "print",
    "debug",
];

/// The functions `ast` calls that neither the sandbox's library nor the script
/// defines, with where each call is: such a call can only fail when the hook runs.
pub fn unknown_calls(engine: &rhai::Engine, ast: &rhai::AST) -> Vec<(String, rhai::Position)> {
    let mut known: BTreeSet<String> = engine
        .gen_fn_signatures(true)
        .iter()
        .filter_map(|signature| signature.split('(').next())
        .map(|name| name.trim().to_owned())
        .collect();
    known.extend(KEYWORD_CALLS.iter().map(|k| (*k).to_owned()));
    known.extend(ast.iter_functions().map(|f| f.name.to_owned()));
    let mut unknown = Vec::new();
    ast.walk(&mut |path: &[rhai::ASTNode]| {
        let call = match path.last() {
            Some(rhai::ASTNode::Expr(
                rhai::Expr::FnCall(call, pos) | rhai::Expr::MethodCall(call, pos),
            )) => Some((call, pos)),
            // A call standing alone as a statement.
            Some(rhai::ASTNode::Stmt(rhai::Stmt::FnCall(call, pos))) => Some((call, pos)),
            _ => None,
        };
        if let Some((call, pos)) = call {
            let name = call.name.as_str();
            let is_identifier = name
                .chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_');
            if call.op_token.is_none() && is_identifier && !known.contains(name) {
                unknown.push((name.to_owned(), *pos));
            }
        }
        true
    });
    unknown
}
