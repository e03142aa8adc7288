//! What every leg's program runs against: the plan, its hooks, the settings, the store,
//! who is in a call, and the queue of outputs. Helpers here take the leg they work on.

use super::coverage::Ran;
use super::eval::{Fault, Scope};
use super::event::{Event, LegId, Output, PLACED_LEGS, VerifyId};
use super::leg::Leg;
use super::presence::Presence;
use crate::clock::Timestamp;
use crate::dsl::Plan;
use crate::dsl::reason::RejectReason;
use crate::dsl::settings::Settings;
use crate::hooks::{Decision, Hooks};
use crate::store::Store;
use std::collections::VecDeque;
use std::sync::Arc;

/// The engine's context: everything but the legs.
pub(super) struct Context<S: Store> {
    pub plan: Arc<Plan>,
    pub hooks: Arc<Hooks>,
    pub settings: Settings,
    pub store: S,
    pub presence: Presence,
    pub out: VecDeque<Output>,
    /// What of the plan ran, when the driver asked for coverage.
    pub coverage: Option<Ran>,
    next_request: VerifyId,
    next_placed: LegId,
}

impl<S: Store> Context<S> {
    pub fn new(plan: Arc<Plan>, hooks: Arc<Hooks>, settings: Settings, store: S) -> Self {
        Context {
            plan,
            hooks,
            settings,
            store,
            presence: Presence::default(),
            out: VecDeque::new(),
            coverage: None,
            next_request: 1,
            next_placed: PLACED_LEGS,
        }
    }

    pub fn emit(&mut self, leg: LegId, event: Event) {
        self.out.push_back(Output::Event { leg, event });
    }

    pub fn warn(&mut self, leg: Option<LegId>, message: String) {
        self.out.push_back(Output::Warning { leg, message });
    }

    /// Reports a plan fault on a leg.
    pub fn fault(&mut self, leg: LegId, f: &Fault) {
        let message = format!("{}: {}", self.plan.sources.locate(f.span), f.message);
        self.warn(Some(leg), message);
    }

    /// What an expression sees on `leg` (or on no leg: settings and records only).
    pub fn scope<'a>(&'a self, leg: Option<&'a Leg>, now: Timestamp) -> Scope<'a> {
        Scope {
            plan: &self.plan,
            store: &self.store,
            settings: &self.settings,
            leg,
            presence: &self.presence,
            now,
        }
    }

    pub fn next_request(&mut self) -> VerifyId {
        self.next_request += 1;
        self.next_request
    }

    pub fn next_placed(&mut self) -> LegId {
        self.next_placed += 1;
        self.next_placed
    }

    /// An extension's class of service.
    pub fn extension_class(&self, number: &str) -> Option<u32> {
        self.store
            .extension(number)
            .ok()
            .flatten()
            .map(|r| r.config.class)
    }

    /// The class in force on a leg: a verification code's, else its caller's.
    pub fn class_of(&self, leg: &Leg) -> Option<u32> {
        leg.class_override.or_else(|| {
            leg.caller_is_extension
                .then(|| self.extension_class(&leg.caller))
                .flatten()
        })
    }

    /// Runs a hook; a failing hook is logged and denies.
    pub fn decide(
        &mut self,
        now: Timestamp,
        leg: LegId,
        hook: &str,
        facts: &serde_json::Value,
    ) -> Decision {
        if let Some(ran) = &mut self.coverage {
            ran.hook(hook);
        }
        match self.hooks.call(hook, facts, now) {
            Ok(Some(d)) => d,
            Ok(None) => Decision::Allow,
            Err(failure) => {
                self.warn(Some(leg), failure.to_string());
                Decision::Deny("restricted".into())
            }
        }
    }

    /// What hooks see of a leg.
    pub fn facts(&self, leg: &Leg, number: Option<&str>) -> serde_json::Value {
        crate::hooks::Facts {
            caller: &leg.caller,
            dialed: &leg.dialed,
            number,
            class: self.class_of(leg),
            originator: leg.originator.as_deref().unwrap_or(&leg.caller),
            billing: leg.billing.as_deref(),
        }
        .to_json()
    }

    /// VC-7: whether `number` (outside, prefix stripped) may be called under `class`,
    /// then what the `before-outbound` hook says.
    pub fn may_call_out(
        &mut self,
        now: Timestamp,
        leg: &Leg,
        class: Option<u32>,
        number: &str,
    ) -> Result<(), RejectReason> {
        let permitted = class
            .and_then(|c| self.plan.classes.get(&c))
            .is_some_and(|c| c.permits(number));
        if !permitted {
            return Err(RejectReason::Restricted);
        }
        let facts = self.facts(leg, Some(number));
        match self.decide(now, leg.id, "before-outbound", &facts) {
            Decision::Allow => Ok(()),
            Decision::Deny(reason) => {
                Err(RejectReason::parse(&reason).unwrap_or(RejectReason::Restricted))
            }
        }
    }
}
