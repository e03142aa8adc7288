//! Evaluating compiled expressions against a leg, the store, the settings and who is
//! in a call. Names were resolved when the plan was compiled; here only values are read.

use super::leg::Leg;
use super::presence::Presence;
use crate::clock::{Duration, Timestamp};
use crate::dsl::Plan;
use crate::dsl::ast::CompareOp;
use crate::dsl::expr::{CodeField, Expr, ExprKind, ExtensionField, Field, Party};
use crate::dsl::settings::{SettingId, Settings};
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

    /// A store failure met at a span.
    pub fn store(span: Span, e: StoreError) -> Fault {
        Fault::at(span, e.to_string())
    }
}

/// What a party names.
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
    /// The plan (for setting names).
    pub plan: &'a Plan,
    /// The store.
    pub store: &'a dyn Store,
    /// Settings in force.
    pub settings: &'a Settings,
    /// The leg, if the expression runs on one (policy clauses do not).
    pub leg: Option<&'a Leg>,
    /// Who is in an answered call.
    pub presence: &'a Presence,
    /// The time.
    pub now: Timestamp,
}

impl Scope<'_> {
    /// Evaluates an expression.
    pub fn eval(&self, expr: &Expr) -> Result<Value, Fault> {
        Ok(match &expr.kind {
            ExprKind::Const(v) => v.clone(),
            ExprKind::Var(slot) => self.leg(expr.span)?.vars[*slot].clone(),
            ExprKind::Setting(id) => self.setting(*id, expr.span)?,
            ExprKind::Now => Value::Time(self.now),
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
                    .tally_since(name, &key, since)
                    .map_err(|e| Fault::store(expr.span, e))?;
                Value::Int(i64::from(n))
            }
            ExprKind::Key(party) => Value::Digits(self.record(party, expr.span)?.key().to_string()),
            ExprKind::Field(party, field) => {
                let record = self.record(party, expr.span)?;
                self.field(&record, *field)
            }
        })
    }

    /// Evaluates to digit text (numbers, codes, PINs).
    pub fn text(&self, expr: &Expr) -> Result<String, Fault> {
        let v = self.eval(expr)?;
        v.as_text()
            .ok_or_else(|| Fault::at(expr.span, format!("expected digits, found {}", v.kind())))
    }

    /// Evaluates to a duration (plain numbers are seconds).
    pub fn duration(&self, expr: &Expr, what: &str) -> Result<Duration, Fault> {
        self.eval(expr)?
            .as_duration()
            .ok_or_else(|| Fault::at(expr.span, format!("{what} is a duration")))
    }

    fn leg(&self, span: Span) -> Result<&Leg, Fault> {
        self.leg
            .ok_or_else(|| Fault::at(span, "only a call has variables and parties"))
    }

    /// A setting's value; a list setting with the changes `add` and `remove` made.
    pub fn setting(&self, id: SettingId, span: Span) -> Result<Value, Fault> {
        let value = self.settings.get(id);
        let Value::List(items) = value else {
            return Ok(value.clone());
        };
        let changes = self
            .store
            .list_changes(self.plan.settings.name(id))
            .map_err(|e| Fault::store(span, e))?;
        let mut items = items.clone();
        for (entry, added) in changes {
            let entry = Value::Digits(entry);
            items.retain(|i| !i.same(&entry));
            if added {
                items.push(entry);
            }
        }
        Ok(Value::List(items))
    }

    /// Resolves a party to the record it names.
    pub fn record(&self, party: &Party, span: Span) -> Result<Record, Fault> {
        let extension = |number: String| -> Result<Record, Fault> {
            let rec = self
                .store
                .extension(&number)
                .map_err(|e| Fault::store(span, e))?;
            Ok(Record::Extension(number, rec.map(Box::new)))
        };
        match party {
            Party::Caller => {
                let leg = self.leg(span)?;
                if leg.caller_is_extension {
                    extension(leg.caller.clone())
                } else {
                    Ok(Record::Outside(leg.caller.clone()))
                }
            }
            Party::Callee => match &self.leg(span)?.callee {
                Some(c) => extension(c.clone()),
                None => Err(Fault::at(
                    span,
                    "`callee` is only known inside `incoming` rules",
                )),
            },
            Party::Extension(arg) => extension(self.text(arg)?),
            Party::Code(arg) => {
                let code = self.text(arg)?;
                let rec = self.store.code(&code).map_err(|e| Fault::store(span, e))?;
                Ok(Record::Code(code, rec))
            }
        }
    }

    fn field(&self, record: &Record, field: Field) -> Value {
        match (record, field) {
            (Record::Extension(n, Some(r)), Field::Extension(f)) => {
                extension_field(n, r, f, self.now, self.presence)
            }
            (Record::Extension(n, None) | Record::Outside(n), Field::Extension(f)) => match f {
                ExtensionField::Extension => Value::Digits(n.clone()),
                ExtensionField::Exists | ExtensionField::Busy => Value::Bool(false),
                _ => Value::None,
            },
            (Record::Code(c, rec), Field::Code(f)) => match (f, rec) {
                (CodeField::Code, _) => Value::Digits(c.clone()),
                (CodeField::Exists, r) => Value::Bool(r.is_some()),
                (CodeField::Name, Some(r)) => Value::Str(r.name.clone()),
                (CodeField::Class, Some(r)) => Value::Int(i64::from(r.class)),
                (CodeField::Billing, Some(r)) => r.billing.clone().map_or(Value::None, Value::Str),
                (_, None) => Value::None,
            },
            // The compiler types fields by party; a mismatch reads as nothing.
            _ => Value::None,
        }
    }
}

fn extension_field(
    number: &str,
    r: &ExtensionRecord,
    field: ExtensionField,
    now: Timestamp,
    presence: &Presence,
) -> Value {
    use ExtensionField as F;
    let c = &r.config;
    let s = &r.state;
    let opt_str = |v: &Option<String>| v.clone().map_or(Value::None, Value::Str);
    let opt_digits = |v: &Option<String>| v.clone().map_or(Value::None, Value::Digits);
    match field {
        F::Extension => Value::Digits(number.to_string()),
        F::Exists => Value::Bool(true),
        F::Name => opt_str(&c.name),
        F::Class => Value::Int(i64::from(c.class)),
        F::Department => opt_str(&c.department),
        F::Manager => Value::Bool(c.manager),
        F::Spy => Value::Bool(c.spy),
        F::Agent => c
            .agent
            .map_or(Value::None, |a| Value::Str(format!("{a:?}").to_lowercase())),
        F::MailboxType => Value::Str(format!("{:?}", c.mailbox_type).to_lowercase()),
        F::VoicemailEnabled => Value::Bool(c.voicemail.enabled),
        F::PasswordProtectionEnabled => Value::Bool(c.password_protection.enabled),
        F::PinProtectEnabled => Value::Bool(c.pin_protect.enabled),
        F::PinProtectDuration => Value::Duration(Duration::seconds(c.pin_protect.duration as i64)),
        F::Blocked => Value::Bool(s.blocked),
        F::Dnd => Value::Bool(s.dnd),
        F::ForwardAll => opt_digits(&s.forward_all),
        F::ForwardBusy => opt_digits(&s.forward_busy),
        F::ForwardNoAnswer => opt_digits(&s.forward_no_answer),
        F::OutboundGranted => Value::Bool(s.outbound_grant_until.is_some_and(|until| now < until)),
        F::OutboundGrantUntil => s.outbound_grant_until.map_or(Value::None, Value::Time),
        F::Busy => Value::Bool(presence.is_busy(number)),
        F::FollowMeEnabled => Value::Bool(c.follow_me.enabled),
        F::FollowMeRingDuration => {
            Value::Duration(Duration::seconds(c.follow_me.ring_duration as i64))
        }
        F::FollowMeList => Value::List(
            c.follow_me
                .list
                .iter()
                .map(|step| {
                    Value::List(vec![
                        Value::Digits(step.number.clone()),
                        Value::Duration(Duration::seconds(step.ring_time as i64)),
                    ])
                })
                .collect(),
        ),
        F::LastExternalCaller => opt_digits(&s.last_external_caller),
    }
}
