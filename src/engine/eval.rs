//! Expression evaluation against a leg, the store and the settings.

use super::leg::Leg;
use crate::clock::Timestamp;
use crate::directory::validate::Settings;
use crate::dsl::ast::{CompareOp, Expr, ExprKind, Object, Word};
use crate::dsl::span::Span;
use crate::dsl::value::Value;
use crate::store::{CodeRecord, ExtensionRecord, Store, StoreError};

/// A runtime failure of the plan, at a place in it.
#[derive(Debug)]
pub struct Fault {
    /// Where in the plan.
    pub span: Span,
    /// What went wrong.
    pub message: String,
}

impl Fault {
    /// A fault at a span.
    pub fn at(span: Span, message: impl Into<String>) -> Fault {
        Fault {
            span,
            message: message.into(),
        }
    }

    fn store(span: Span, e: StoreError) -> Fault {
        Fault::at(span, e.to_string())
    }
}

/// What an object names.
#[derive(Debug)]
pub enum Record {
    /// An extension number and its record, if it exists.
    Extension(String, Option<Box<ExtensionRecord>>),
    /// A code and its record, if it exists.
    Code(String, Option<CodeRecord>),
    /// An outside party (not in the directory).
    Outside(String),
}

impl Record {
    /// The number or code named.
    pub fn key(&self) -> &str {
        match self {
            Record::Extension(n, _) | Record::Code(n, _) | Record::Outside(n) => n,
        }
    }
}

/// Everything an expression can see.
pub struct Scope<'a> {
    /// The store.
    pub store: &'a dyn Store,
    /// Settings in force.
    pub settings: &'a Settings,
    /// The leg.
    pub leg: &'a Leg,
    /// The time.
    pub now: Timestamp,
}

impl Scope<'_> {
    /// Evaluates an expression.
    pub fn eval(&self, expr: &Expr) -> Result<Value, Fault> {
        Ok(match &expr.kind {
            ExprKind::Literal(lit) => Value::from(lit),
            ExprKind::Not(e) => Value::Bool(!self.eval(e)?.truthy()),
            ExprKind::And(parts) => {
                for part in parts {
                    if !self.eval(part)?.truthy() {
                        return Ok(Value::Bool(false));
                    }
                }
                Value::Bool(true)
            }
            ExprKind::Or(parts) => {
                for part in parts {
                    if self.eval(part)?.truthy() {
                        return Ok(Value::Bool(true));
                    }
                }
                Value::Bool(false)
            }
            ExprKind::Compare(op, a, b) => {
                let (l, r) = (self.eval(a)?, self.eval(b)?);
                let ord = || {
                    l.order(&r).ok_or_else(|| {
                        Fault::at(
                            expr.span,
                            format!("cannot compare {} with {}", l.kind(), r.kind()),
                        )
                    })
                };
                Value::Bool(match op {
                    CompareOp::Eq => l.same(&r),
                    CompareOp::Ne => !l.same(&r),
                    CompareOp::Lt => ord()?.is_lt(),
                    CompareOp::Le => ord()?.is_le(),
                    CompareOp::Gt => ord()?.is_gt(),
                    CompareOp::Ge => ord()?.is_ge(),
                    CompareOp::In => l.member_of(&r),
                })
            }
            ExprKind::Tally { name, key, window } => {
                let key = self.text(key)?;
                let window = self
                    .eval(window)?
                    .as_duration()
                    .ok_or_else(|| Fault::at(window.span, "a tally window is a duration"))?;
                let since = Timestamp(self.now.0 - window.0);
                let n = self
                    .store
                    .tally_since(&name.text, &key, since)
                    .map_err(|e| Fault::store(expr.span, e))?;
                Value::Int(i64::from(n))
            }
            ExprKind::Path { object, fields } => self.path(object, fields, expr.span)?,
        })
    }

    /// Evaluates to digit text (numbers, codes, PINs).
    pub fn text(&self, expr: &Expr) -> Result<String, Fault> {
        let v = self.eval(expr)?;
        v.as_text()
            .ok_or_else(|| Fault::at(expr.span, format!("expected digits, found {}", v.kind())))
    }

    /// Resolves an object to the record it names.
    pub fn record(&self, object: &Object) -> Result<Record, Fault> {
        let span = object.span();
        let extension = |number: String| -> Result<Record, Fault> {
            let rec = self
                .store
                .extension(&number)
                .map_err(|e| Fault::store(span, e))?;
            Ok(Record::Extension(number, rec.map(Box::new)))
        };
        match object {
            Object::Named(w) if w.text == "caller" => {
                if self.leg.caller_is_extension {
                    extension(self.leg.caller.clone())
                } else {
                    Ok(Record::Outside(self.leg.caller.clone()))
                }
            }
            Object::Named(w) if w.text == "callee" => match &self.leg.callee {
                Some(c) => extension(c.clone()),
                None => Err(Fault::at(
                    span,
                    "`callee` is only known inside `incoming` rules",
                )),
            },
            Object::Named(w) => Err(Fault::at(
                w.span,
                format!("`{}` is not an extension or a code", w.text),
            )),
            Object::Extension(arg, _) => extension(self.text(arg)?),
            Object::Code(arg, _) => {
                let code = self.text(arg)?;
                let rec = self.store.code(&code).map_err(|e| Fault::store(span, e))?;
                Ok(Record::Code(code, rec))
            }
        }
    }

    fn path(&self, object: &Object, fields: &[Word], span: Span) -> Result<Value, Fault> {
        if let Object::Named(w) = object
            && w.text != "caller"
            && w.text != "callee"
        {
            return self.name(w);
        }
        let record = self.record(object)?;
        if fields.is_empty() {
            return Ok(Value::Digits(record.key().to_string()));
        }
        let dotted = fields
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(".");
        Ok(match &record {
            Record::Extension(n, Some(r)) => extension_field(n, r, &dotted, self.now),
            Record::Extension(n, None) | Record::Outside(n) => match dotted.as_str() {
                "extension" => Value::Digits(n.clone()),
                "exists" => Value::Bool(false),
                _ => Value::None,
            },
            Record::Code(c, rec) => match (dotted.as_str(), rec) {
                ("code", _) => Value::Digits(c.clone()),
                ("exists", r) => Value::Bool(r.is_some()),
                ("name", Some(r)) => Value::Str(r.name.clone()),
                ("class", Some(r)) => Value::Int(i64::from(r.class)),
                ("billing", Some(r)) => r.billing.clone().map_or(Value::None, Value::Str),
                (_, None) => Value::None,
                _ => return Err(Fault::at(span, format!("a code has no field `{dotted}`"))),
            },
        })
    }

    fn name(&self, w: &Word) -> Result<Value, Fault> {
        if w.text == "now" {
            return Ok(Value::Time(self.now));
        }
        if let Some(v) = self.leg.vars.get(&w.text) {
            return Ok(v.clone());
        }
        if let Some(v) = self.settings.get(&w.text) {
            return Ok(v.clone());
        }
        // Checked at load time; here only for a variable read before it is set.
        Ok(Value::None)
    }
}

fn extension_field(number: &str, r: &ExtensionRecord, field: &str, now: Timestamp) -> Value {
    let c = &r.config;
    let s = &r.state;
    let opt_str = |v: &Option<String>| v.clone().map_or(Value::None, Value::Str);
    let opt_digits = |v: &Option<String>| v.clone().map_or(Value::None, Value::Digits);
    match field {
        "extension" => Value::Digits(number.to_string()),
        "exists" => Value::Bool(true),
        "name" => opt_str(&c.name),
        "class" => Value::Int(i64::from(c.class)),
        "department" => opt_str(&c.department),
        "manager" => Value::Bool(c.manager),
        "spy" => Value::Bool(c.spy),
        "agent" => c
            .agent
            .map_or(Value::None, |a| Value::Str(format!("{a:?}").to_lowercase())),
        "mailbox_type" => Value::Str(format!("{:?}", c.mailbox_type).to_lowercase()),
        "voicemail.enabled" => Value::Bool(c.voicemail.enabled),
        "password_protection.enabled" => Value::Bool(c.password_protection.enabled),
        "pin_protect.enabled" => Value::Bool(c.pin_protect.enabled),
        "pin_protect.duration" => Value::Duration(crate::clock::Duration::seconds(
            c.pin_protect.duration as i64,
        )),
        "blocked" => Value::Bool(s.blocked),
        "dnd" => Value::Bool(s.dnd),
        "forward.all" => opt_digits(&s.forward_all),
        "forward.busy" => opt_digits(&s.forward_busy),
        "forward.no_answer" => opt_digits(&s.forward_no_answer),
        "outbound_granted" => Value::Bool(s.outbound_grant_until.is_some_and(|until| now < until)),
        "outbound_grant_until" => s.outbound_grant_until.map_or(Value::None, Value::Time),
        _ => Value::None,
    }
}
