//! Text to syntax tree. `parse_*` functions build one construct from a pest pair;
//! pest guarantees the shape, so an impossible pair is `unreachable!`.

use super::ast::*;
use super::diagnostic::Diagnostic;
use super::nesting;
use super::pattern::Pattern;
use super::span::{FileId, Span};
use crate::clock::Duration;
use pest::Parser as _;
use pest::iterators::Pair;

#[derive(pest_derive::Parser)]
#[grammar = "grammar/dialplan.pest"]
/// The pest parser of `grammar/dialplan.pest` (also read by the formatter).
pub(crate) struct DialplanParser;

/// Parses one file. Syntax errors come back as diagnostics with spans.
pub fn parse(file: FileId, text: &str) -> Result<File, Vec<Diagnostic>> {
    nesting::check(file, text).map_err(|d| vec![d])?;
    let mut pairs =
        DialplanParser::parse(Rule::plan, text).map_err(|e| vec![syntax_error(file, text, e)])?;
    let mut cx = Cx {
        file,
        errors: Vec::new(),
    };
    let plan = pairs.next().expect("a plan pair");
    let items = plan
        .into_inner()
        .filter(|p| p.as_rule() != Rule::EOI)
        .filter_map(|p| cx.parse_item(p))
        .collect();
    if cx.errors.is_empty() {
        Ok(File { items })
    } else {
        Err(cx.errors)
    }
}

fn syntax_error(file: FileId, text: &str, e: pest::error::Error<Rule>) -> Diagnostic {
    let (start, end) = match e.location {
        pest::error::InputLocation::Pos(p) => (p, p),
        pest::error::InputLocation::Span((s, e)) => (s, e),
    };
    // Underline the word at the error, or one character.
    let end = if end > start {
        end
    } else {
        let word = text[start..]
            .find(|c: char| c.is_whitespace())
            .unwrap_or(text.len() - start);
        start + word.clamp(usize::from(start < text.len()), 24)
    };
    let message = match &e.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => {
            let mut wanted: Vec<&str> = positives.iter().map(|r| describe(*r)).collect();
            wanted.sort_unstable();
            wanted.dedup();
            match wanted.as_slice() {
                [] => "unexpected text".to_string(),
                [one] => format!("expected {one}"),
                many => format!("expected one of: {}", many.join(", ")),
            }
        }
        pest::error::ErrorVariant::CustomError { message } => message.clone(),
    };
    let found = text[start..end].trim();
    let label = if found.is_empty() {
        "here".to_string()
    } else {
        format!("found `{found}`")
    };
    Diagnostic::error("syntax", Span::new(file, start, end), message).with_label(label)
}

/// Whether a grammar rule is one of the plan's items (`set`, `policy`, `dial`, ...):
/// the one list, for the parser's messages and the formatter's line starts.
pub(crate) fn is_item(which: Rule) -> bool {
    matches!(
        which,
        Rule::include
            | Rule::setting
            | Rule::policy
            | Rule::class
            | Rule::hook
            | Rule::sub
            | Rule::rule
    )
}

/// Whether a grammar rule is one of a policy's clauses (`secret`, `length`, ...): the
/// one list, for the parser's messages and the formatter's line starts.
pub(crate) fn is_policy_clause(which: Rule) -> bool {
    matches!(
        which,
        Rule::p_secret
            | Rule::p_length
            | Rule::p_attempts
            | Rule::p_lockout
            | Rule::p_unlock_by
            | Rule::p_unlock_does
    )
}

/// Whether a grammar rule is one of the statements (`play`, `check`, `if`, ...): the one
/// list, for the parser's messages and the formatter's line starts.
pub(crate) fn is_statement(which: Rule) -> bool {
    matches!(
        which,
        Rule::s_play
            | Rule::s_tone
            | Rule::s_ask
            | Rule::s_check
            | Rule::s_if
            | Rule::s_set
            | Rule::s_let
            | Rule::s_grant
            | Rule::s_unlock
            | Rule::s_ring
            | Rule::s_alert
            | Rule::s_forward
            | Rule::s_add
            | Rule::s_remove
            | Rule::s_outbound
            | Rule::s_voicemail
            | Rule::s_messages
            | Rule::s_reject
            | Rule::s_hangup
            | Rule::s_retry
            | Rule::s_attempt
            | Rule::s_dial
            | Rule::s_tally
            | Rule::s_run
            | Rule::s_wait
            | Rule::s_do
    )
}

/// Names a grammar rule the way a plan author thinks of it.
fn describe(which: Rule) -> &'static str {
    const ITEM: &str = "an item (set, policy, class, hook, sub, dial, inbound, incoming, incall)";
    const POLICY_CLAUSE: &str = "a policy clause (secret, length, attempts, lockout, unlock)";
    match which {
        Rule::EOI => "end of file",
        Rule::item | Rule::rule_kind => ITEM,
        w if is_item(w) => ITEM,
        Rule::stmt | Rule::alert_busy => "a statement",
        w if is_statement(w) => "a statement",
        Rule::block => "`{`",
        Rule::branch | Rule::branch_kind => "`ok`, `locked` or `invalid`",
        Rule::expr
        | Rule::or_expr
        | Rule::and_expr
        | Rule::not_expr
        | Rule::cmp_expr
        | Rule::path
        | Rule::call => "an expression",
        Rule::cmp_op => "a comparison",
        Rule::literal
        | Rule::duration
        | Rule::range
        | Rule::boolean
        | Rule::none
        | Rule::digits
        | Rule::list => "a value",
        Rule::string | Rule::str_inner => "a quoted string",
        Rule::int => "a number",
        Rule::ident => "a name",
        Rule::field | Rule::field_path => "a field name",
        Rule::name => "a name such as `enter-pin`",
        Rule::object | Rule::object_fn | Rule::object_kind => {
            "`caller`, `callee`, `extension(..)` or `code(..)`"
        }
        Rule::secret_ref => "a secret such as `caller.voicemail`",
        Rule::owner_kind => "`extension` or `code`",
        Rule::matcher
        | Rule::match_any
        | Rule::match_extension
        | Rule::match_in
        | Rule::dial_pattern
        | Rule::pattern_body
        | Rule::p_digits
        | Rule::p_wild
        | Rule::p_range
        | Rule::p_rest
        | Rule::p_capture => "a dial pattern, `any`, `extension` or `in SETTING`",
        Rule::policy_clause => POLICY_CLAUSE,
        w if is_policy_clause(w) => POLICY_CLAUSE,
        Rule::lockout_off | Rule::lockout_after => "`off` or `after N`",
        Rule::per_call => "`per call`",
        Rule::unlocker => "`admin`, `manager` or `owner`",
        Rule::unlock_effect => "`clears` or `keeps`",
        Rule::class_line | Rule::class_verb => "`allow` or `deny`",
        Rule::hook_file | Rule::hook_body | Rule::hook_code => {
            "`from \"file.rhai\"` or `\"\"\"` code `\"\"\"`"
        }
        Rule::not_op => "`not`",
        _ => "something else",
    }
}

struct Cx {
    file: FileId,
    errors: Vec<Diagnostic>,
}

impl Cx {
    fn span(&self, pair: &Pair<Rule>) -> Span {
        let s = pair.as_span();
        Span::new(
            self.file,
            s.start(),
            s.start() + without_trailing(s.as_str()),
        )
    }

    fn word(&self, pair: Pair<Rule>) -> Word {
        Word {
            span: self.span(&pair),
            text: pair.as_str().to_string(),
        }
    }

    fn int(&mut self, pair: Pair<Rule>) -> u32 {
        let span = self.span(&pair);
        pair.as_str().parse().unwrap_or_else(|_| {
            self.errors
                .push(Diagnostic::error("number", span, "number too large"));
            0
        })
    }

    fn parse_item(&mut self, pair: Pair<Rule>) -> Option<Item> {
        let span = self.span(&pair);
        Some(match pair.as_rule() {
            Rule::include => {
                let s = pair.into_inner().next().unwrap();
                Item::Include {
                    path: unquote(s.as_str()),
                    span,
                }
            }
            Rule::setting => {
                let mut inner = pair.into_inner();
                let name = self.word(inner.next().unwrap());
                let value = self.parse_literal(inner.next().unwrap());
                Item::Setting { name, value }
            }
            Rule::policy => Item::Policy(self.parse_policy(pair)),
            Rule::class => Item::Class(self.parse_class(pair)?),
            Rule::hook => {
                let mut inner = pair.into_inner();
                let name = self.word(inner.next().unwrap());
                let src = inner.next().unwrap();
                let src_span = self.span(&src);
                let source = match src.as_rule() {
                    Rule::hook_file => HookSource::File {
                        path: unquote(src.into_inner().next().unwrap().as_str()),
                        span: src_span,
                    },
                    Rule::hook_body => {
                        let code = src.into_inner().next().unwrap();
                        HookSource::Inline {
                            span: self.span(&code),
                            code: code.as_str().to_string(),
                        }
                    }
                    _ => unreachable!(),
                };
                Item::Hook(HookDef { name, source })
            }
            Rule::sub => {
                let mut inner = pair.into_inner();
                let name = self.word(inner.next().unwrap());
                let body = self.parse_block(inner.next().unwrap());
                Item::Sub { name, body }
            }
            Rule::rule => Item::Rule(self.parse_rule(pair)?),
            _ => unreachable!("item {:?}", pair.as_rule()),
        })
    }

    fn parse_policy(&mut self, pair: Pair<Rule>) -> PolicyDef {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = self.word(inner.next().unwrap());
        let mut def = PolicyDef {
            name,
            span,
            secret: None,
            length: None,
            attempts: None,
            lockout: None,
            unlock_by: None,
            unlock_clears: None,
        };
        for clause in inner {
            let cspan = self.span(&clause);
            let clause_rule = clause.as_rule();
            let mut parts = clause.into_inner();
            let duplicate = match clause_rule {
                Rule::p_secret => {
                    let kind = match parts.next().unwrap().as_str() {
                        "extension" => OwnerKind::Extension,
                        _ => OwnerKind::Code,
                    };
                    def.secret
                        .replace((kind, self.word(parts.next().unwrap())))
                        .is_some()
                }
                Rule::p_length => {
                    let lo = self.int(parts.next().unwrap());
                    let hi = parts.next().map(|p| self.int(p)).unwrap_or(lo);
                    def.length.replace((lo, hi, cspan)).is_some()
                }
                Rule::p_attempts => {
                    let n = self.int(parts.next().unwrap());
                    def.attempts.replace((n, cspan)).is_some()
                }
                Rule::p_lockout => {
                    let how = parts.next().unwrap();
                    let lockout = match how.as_rule() {
                        Rule::lockout_off => LockoutDef::Off(cspan),
                        _ => {
                            let mut p = how.into_inner();
                            let threshold = self.parse_operand(p.next().unwrap());
                            let mut per_call = false;
                            let mut when = None;
                            for rest in p {
                                match rest.as_rule() {
                                    Rule::per_call => per_call = true,
                                    _ => when = Some(self.parse_expr(rest)),
                                }
                            }
                            LockoutDef::After {
                                threshold,
                                per_call,
                                when,
                                span: cspan,
                            }
                        }
                    };
                    def.lockout.replace(lockout).is_some()
                }
                Rule::p_unlock_by => {
                    let who = match parts.next().unwrap().as_str() {
                        "admin" => Unlocker::Admin,
                        "manager" => Unlocker::Manager,
                        _ => Unlocker::Owner,
                    };
                    def.unlock_by.replace((who, cspan)).is_some()
                }
                Rule::p_unlock_does => {
                    let clears = parts.next().unwrap().as_str() == "clears";
                    def.unlock_clears.replace((clears, cspan)).is_some()
                }
                _ => unreachable!(),
            };
            if duplicate {
                self.errors.push(Diagnostic::error(
                    "duplicate-clause",
                    cspan,
                    "this clause is already given above",
                ));
            }
        }
        def
    }

    fn parse_class(&mut self, pair: Pair<Rule>) -> Option<ClassDef> {
        let span = self.span(&pair);
        let mut number = 0;
        let mut label = None;
        let mut lines = Vec::new();
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::int => number = self.int(part),
                Rule::string => label = Some(unquote(part.as_str())),
                Rule::class_line => {
                    let mut p = part.into_inner();
                    let allow = p.next().unwrap().as_str() == "allow";
                    let pattern = self.parse_pattern(p.next().unwrap())?;
                    lines.push((allow, pattern));
                }
                _ => unreachable!(),
            }
        }
        Some(ClassDef {
            number,
            label,
            lines,
            span,
        })
    }

    fn parse_pattern(&mut self, pair: Pair<Rule>) -> Option<Pattern> {
        let span = self.span(&pair);
        let text = pair.as_str().trim_matches('"');
        match Pattern::parse(text) {
            Ok(p) => Some(p),
            Err(e) => {
                self.errors.push(Diagnostic::error("pattern", span, e.0));
                None
            }
        }
    }

    fn parse_rule(&mut self, pair: Pair<Rule>) -> Option<RuleDef> {
        let mut inner = pair.into_inner().peekable();
        let kind_pair = inner.next().unwrap();
        let kind = match kind_pair.as_str() {
            "dial" => RuleKind::Dial,
            "inbound" => RuleKind::Inbound,
            "incoming" => RuleKind::Incoming,
            _ => RuleKind::Incall,
        };
        let mut span = self.span(&kind_pair);
        let mut matcher = Matcher::Always;
        let mut guard = None;
        let mut body = None;
        for part in inner {
            match part.as_rule() {
                Rule::match_any => matcher = Matcher::Any,
                Rule::match_extension => matcher = Matcher::Extension,
                Rule::match_in => {
                    matcher = Matcher::In(self.word(part.into_inner().next().unwrap()))
                }
                Rule::dial_pattern => {
                    let end = self.span(&part).end;
                    matcher = Matcher::Pattern(self.parse_pattern(part)?);
                    span.end = end;
                }
                Rule::expr => guard = Some(self.parse_expr(part)),
                Rule::block => body = Some(self.parse_block(part)),
                _ => unreachable!(),
            }
        }
        if !matches!(matcher, Matcher::Pattern(_)) {
            span.end = span.end.max(span.start);
        }
        Some(RuleDef {
            kind,
            matcher,
            guard,
            body: body.unwrap(),
            span,
        })
    }

    fn parse_block(&mut self, pair: Pair<Rule>) -> Block {
        let span = self.span(&pair);
        let stmts = pair.into_inner().map(|s| self.parse_stmt(s)).collect();
        Block { stmts, span }
    }

    fn parse_stmt(&mut self, pair: Pair<Rule>) -> Stmt {
        let span = self.span(&pair);
        let stmt_rule = pair.as_rule();
        let mut p = pair.into_inner();
        let kind = match stmt_rule {
            Rule::s_play => {
                let prompt = self.word(p.next().unwrap());
                let arg = p.next().map(|e| self.parse_expr(e));
                StmtKind::Play { prompt, arg }
            }
            Rule::s_tone => StmtKind::Tone(self.word(p.next().unwrap())),
            Rule::s_ask => {
                let prompt = self.word(p.next().unwrap());
                let var = self.word(p.next().unwrap());
                StmtKind::Ask { prompt, var }
            }
            Rule::s_check => {
                let input = self.parse_expr(p.next().unwrap());
                let secret = self.parse_secret_ref(p.next().unwrap());
                let branches = p
                    .map(|b| {
                        let bspan = self.span(&b);
                        let mut bp = b.into_inner();
                        let kind = match bp.next().unwrap().as_str() {
                            "ok" => BranchKind::Ok,
                            "locked" => BranchKind::Locked,
                            _ => BranchKind::Invalid,
                        };
                        (kind, self.parse_block(bp.next().unwrap()), bspan)
                    })
                    .collect();
                StmtKind::Check {
                    input,
                    secret,
                    branches,
                }
            }
            Rule::s_if => {
                let cond = self.parse_expr(p.next().unwrap());
                let then = self.parse_block(p.next().unwrap());
                let otherwise = p.next().map(|e| match e.as_rule() {
                    Rule::block => self.parse_block(e),
                    _ => {
                        let nested = self.parse_stmt(e);
                        Block {
                            span: nested.span,
                            stmts: vec![nested],
                        }
                    }
                });
                StmtKind::If {
                    cond,
                    then,
                    otherwise,
                }
            }
            Rule::s_set => {
                let object = self.parse_object(p.next().unwrap());
                let field = p
                    .next()
                    .unwrap()
                    .into_inner()
                    .map(|f| self.word(f))
                    .collect();
                let value = self.parse_expr(p.next().unwrap());
                StmtKind::Set {
                    object,
                    field,
                    value,
                }
            }
            Rule::s_let => {
                let var = self.word(p.next().unwrap());
                StmtKind::Let {
                    var,
                    value: self.parse_expr(p.next().unwrap()),
                }
            }
            Rule::s_grant => {
                let what = self.word(p.next().unwrap());
                let object = self.parse_object(p.next().unwrap());
                let duration = self.parse_expr(p.next().unwrap());
                StmtKind::Grant {
                    what,
                    object,
                    duration,
                }
            }
            Rule::s_unlock => StmtKind::Unlock(self.parse_secret_ref(p.next().unwrap())),
            Rule::s_ring => StmtKind::Ring(self.parse_expr(p.next().unwrap())),
            Rule::s_alert => {
                let target = self.parse_expr(p.next().unwrap());
                let (mut timeout, mut busy) = (None, None);
                for part in p {
                    match part.as_rule() {
                        Rule::alert_busy => {
                            busy = Some(self.parse_block(part.into_inner().next().unwrap()));
                        }
                        _ => timeout = Some(self.parse_expr(part)),
                    }
                }
                StmtKind::Alert {
                    target,
                    timeout,
                    busy,
                }
            }
            Rule::s_forward => StmtKind::Forward(self.parse_expr(p.next().unwrap())),
            Rule::s_add => {
                let value = self.parse_expr(p.next().unwrap());
                StmtKind::ListAdd {
                    value,
                    list: self.word(p.next().unwrap()),
                }
            }
            Rule::s_remove => {
                let value = self.parse_expr(p.next().unwrap());
                StmtKind::ListRemove {
                    value,
                    list: self.word(p.next().unwrap()),
                }
            }
            Rule::s_outbound => StmtKind::Outbound(self.parse_expr(p.next().unwrap())),
            Rule::s_voicemail => StmtKind::Voicemail(self.parse_expr(p.next().unwrap())),
            Rule::s_messages => StmtKind::Messages(self.parse_expr(p.next().unwrap())),
            Rule::s_reject => StmtKind::Reject(self.word(p.next().unwrap())),
            Rule::s_hangup => StmtKind::Hangup,
            Rule::s_retry => StmtKind::Retry {
                otherwise: p.next().map(|b| self.parse_block(b)),
            },
            Rule::s_attempt => StmtKind::Attempt(self.parse_block(p.next().unwrap())),
            Rule::s_dial => {
                let number = self.parse_expr(p.next().unwrap());
                let as_object = p.next().map(|o| self.parse_object(o));
                StmtKind::Dial { number, as_object }
            }
            Rule::s_tally => {
                let name = self.word(p.next().unwrap());
                StmtKind::Tally {
                    name,
                    key: self.parse_expr(p.next().unwrap()),
                }
            }
            Rule::s_run => StmtKind::Run(self.word(p.next().unwrap())),
            Rule::s_wait => StmtKind::Wait(self.parse_expr(p.next().unwrap())),
            Rule::s_do => StmtKind::Do(self.word(p.next().unwrap())),
            other => unreachable!("statement {other:?}"),
        };
        Stmt { kind, span }
    }

    fn parse_secret_ref(&mut self, pair: Pair<Rule>) -> SecretRef {
        let span = self.span(&pair);
        let mut p = pair.into_inner();
        let object = self.parse_object(p.next().unwrap());
        SecretRef {
            object,
            secret: self.word(p.next().unwrap()),
            span,
        }
    }

    fn parse_object(&mut self, pair: Pair<Rule>) -> Object {
        let inner = pair.into_inner().next().unwrap();
        match inner.as_rule() {
            Rule::ident => Object::Named(self.word(inner)),
            Rule::object_fn => {
                let span = self.span(&inner);
                let mut p = inner.into_inner();
                let kind = p.next().unwrap().as_str() == "extension";
                let arg = Box::new(self.parse_expr(p.next().unwrap()));
                if kind {
                    Object::Extension(arg, span)
                } else {
                    Object::Code(arg, span)
                }
            }
            _ => unreachable!(),
        }
    }

    fn parse_expr(&mut self, pair: Pair<Rule>) -> Expr {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::expr => self.parse_expr(pair.into_inner().next().unwrap()),
            Rule::or_expr | Rule::and_expr => {
                let is_or = pair.as_rule() == Rule::or_expr;
                let mut parts: Vec<Expr> = pair
                    .into_inner()
                    .filter(|p| !matches!(p.as_rule(), Rule::kw_and | Rule::kw_or))
                    .map(|p| self.parse_expr(p))
                    .collect();
                if parts.len() == 1 {
                    return parts.pop().unwrap();
                }
                let kind = if is_or {
                    ExprKind::Or(parts)
                } else {
                    ExprKind::And(parts)
                };
                Expr { kind, span }
            }
            Rule::not_expr => {
                let mut nots = 0;
                let mut inner = None;
                for p in pair.into_inner() {
                    match p.as_rule() {
                        Rule::not_op => nots += 1,
                        _ => inner = Some(self.parse_expr(p)),
                    }
                }
                let mut e = inner.unwrap();
                // `not not x` is the truth of x, so only the count's parity matters; two
                // are kept for an even count, so `x` is still turned into a truth value.
                let nots = if nots == 0 { 0 } else { 2 - nots % 2 };
                for _ in 0..nots {
                    e = Expr {
                        kind: ExprKind::Not(Box::new(e)),
                        span,
                    };
                }
                e
            }
            Rule::cmp_expr => {
                let mut p = pair.into_inner();
                let left = self.parse_operand(p.next().unwrap());
                match p.next() {
                    None => left,
                    Some(op) => {
                        let op = match op.as_str() {
                            "==" => CompareOp::Eq,
                            "!=" => CompareOp::Ne,
                            "<" => CompareOp::Lt,
                            "<=" => CompareOp::Le,
                            ">" => CompareOp::Gt,
                            ">=" => CompareOp::Ge,
                            _ => CompareOp::In,
                        };
                        let right = self.parse_operand(p.next().unwrap());
                        Expr {
                            kind: ExprKind::Compare(op, Box::new(left), Box::new(right)),
                            span,
                        }
                    }
                }
            }
            _ => self.parse_operand(pair),
        }
    }

    fn parse_operand(&mut self, pair: Pair<Rule>) -> Expr {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::path => {
                let mut p = pair.into_inner();
                let object = self.parse_object(p.next().unwrap());
                let fields = p
                    .next()
                    .map(|f| f.into_inner().map(|w| self.word(w)).collect())
                    .unwrap_or_default();
                Expr {
                    kind: ExprKind::Path { object, fields },
                    span,
                }
            }
            Rule::call => {
                let mut p = pair.into_inner();
                let name = self.word(p.next().unwrap());
                let key = Box::new(self.parse_expr(p.next().unwrap()));
                let window = Box::new(self.parse_expr(p.next().unwrap()));
                Expr {
                    kind: ExprKind::Tally { name, key, window },
                    span,
                }
            }
            Rule::expr | Rule::or_expr | Rule::and_expr | Rule::not_expr | Rule::cmp_expr => {
                self.parse_expr(pair)
            }
            _ => {
                let lit = self.parse_literal(pair);
                Expr {
                    kind: ExprKind::Literal(lit.value),
                    span,
                }
            }
        }
    }

    fn parse_literal(&mut self, pair: Pair<Rule>) -> Literal {
        let span = self.span(&pair);
        let text = pair.as_str();
        let value = match pair.as_rule() {
            Rule::duration => LiteralValue::Duration(Duration::parse(text).unwrap_or_else(|e| {
                self.errors.push(Diagnostic::error("duration", span, e));
                Duration(0)
            })),
            Rule::range => {
                let (lo, hi) = text.split_once('-').unwrap();
                let lo: u64 = lo.parse().unwrap_or(0);
                let hi: u64 = hi.parse().unwrap_or(0);
                if hi < lo {
                    self.errors
                        .push(Diagnostic::error("range", span, "the range runs backwards"));
                }
                LiteralValue::Range(lo, hi)
            }
            Rule::boolean => LiteralValue::Bool(text == "true"),
            Rule::none => LiteralValue::None,
            Rule::digits => LiteralValue::Digits(text.to_string()),
            Rule::string => LiteralValue::Str(unquote(text)),
            Rule::list => {
                LiteralValue::List(pair.into_inner().map(|p| self.parse_literal(p)).collect())
            }
            other => unreachable!("literal {other:?}"),
        };
        Literal { value, span }
    }
}

/// The text of a quoted string, with `\"` and `\\` undone.
fn unquote(quoted: &str) -> String {
    let inner = quoted
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(quoted);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            },
            c => out.push(c),
        }
    }
    out
}

/// The length of `text` without the blanks and comments pest leaves at the end of a
/// statement whose last part is optional, so a caret stops where the statement does.
fn without_trailing(text: &str) -> usize {
    let mut end = text.trim_end().len();
    loop {
        let line_start = text[..end].rfind('\n').map_or(0, |i| i + 1);
        let line = &text[line_start..end];
        let mut in_string = false;
        let comment = line.char_indices().find_map(|(i, c)| match c {
            '"' => {
                in_string = !in_string;
                None
            }
            '#' if !in_string && (i == 0 || line[..i].ends_with([' ', '\t'])) => Some(i),
            _ => None,
        });
        match comment {
            Some(i) if line_start + i > 0 => end = text[..line_start + i].trim_end().len(),
            _ => return end.max(1).min(text.len()),
        }
    }
}
