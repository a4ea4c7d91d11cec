//! What routing returns for an order, in the JSON shape of the design (§5).

use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// Named values as a JSON object, in their order.
fn as_map<S: Serializer>(pairs: &[(String, f64)], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_map(pairs.iter().map(|(k, v)| (k, v)))
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Routed,
    Partial,
    Rejected,
    Held,
    Error,
}

impl Status {
    /// The name the JSON gives it.
    pub fn name(self) -> &'static str {
        match self {
            Status::Routed => "routed",
            Status::Partial => "partial",
            Status::Rejected => "rejected",
            Status::Held => "held",
            Status::Error => "error",
        }
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ShippedLine {
    pub line: String,
    pub sku: String,
    pub qty: i64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Shipment {
    pub node: String,
    pub lines: Vec<ShippedLine>,
    /// Per-shipment costs plus the per-line and per-unit costs of its lines.
    pub cost: f64,
    /// The day the node ships, at the earliest (ISO date), when the order says when it
    /// was placed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_by: Option<String>,
    /// The day the shipment arrives (`ship_by` plus the policy's transit), when the
    /// policy has a transit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliver_by: Option<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnfilledAction {
    Backorder,
    Cancel,
    /// A returned line the shopper keeps: refunded without a return.
    Keep,
    /// A returned line that is not sent anywhere.
    Dispose,
}

impl UnfilledAction {
    pub fn name(self) -> &'static str {
        match self {
            UnfilledAction::Backorder => "backorder",
            UnfilledAction::Cancel => "cancel",
            UnfilledAction::Keep => "keep",
            UnfilledAction::Dispose => "dispose",
        }
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Unfilled {
    pub line: String,
    pub sku: String,
    pub qty: i64,
    pub action: UnfilledAction,
    pub reason: String,
}

/// One decision. An `error` decision has only `order`, `status` and `message`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Decision {
    pub order: Option<String>,
    /// True for the decision of a return: its shipments are the parcels the shopper
    /// sends back, each to the node that receives it.
    #[serde(rename = "return", skip_serializing_if = "std::ops::Not::not")]
    pub is_return: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profiles: Option<Vec<String>>,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipments: Option<Vec<Shipment>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unfilled: Option<Vec<Unfilled>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
    /// True when the search stopped at its budget ([`crate::BUDGET`] search nodes) and
    /// the plan is the best it found, not necessarily the best there is.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub search_cut: bool,
    /// With explanation on: per line, every candidate and why (see docs/routing.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub trace: Option<Trace>,
}

impl Decision {
    /// Every shipped line with the node that ships it, in decision order.
    pub fn shipped(&self) -> impl Iterator<Item = (&str, &ShippedLine)> {
        self.shipments
            .iter()
            .flatten()
            .flat_map(|s| s.lines.iter().map(move |l| (s.node.as_str(), l)))
    }

    pub fn error(order: Option<String>, message: impl Into<String>) -> Decision {
        Decision {
            order,
            is_return: false,
            policy: None,
            profiles: None,
            status: Status::Error,
            reason: None,
            message: Some(message.into()),
            shipments: None,
            unfilled: None,
            cost: None,
            search_cut: false,
            trace: None,
        }
    }

    /// The `error` decision of an order that lacks an optional field (`placed_at`,
    /// `promised_by`) which a policy or profile (`what`, `name`) reads.
    pub fn lacking(order: &str, field: &str, what: &str, name: &str) -> Decision {
        let example = match field {
            "placed_at" => {
                " to know when nodes can ship (an RFC 3339 time, like \"2026-12-07T15:30:00-06:00\")"
            }
            _ => " (a date, like \"2026-12-24\")",
        };
        Decision::error(
            Some(order.to_string()),
            format!(
                "order \"{order}\": field `{field}`: is missing, and {what} \"{name}\" needs it{example}"
            ),
        )
    }
}

/// Where a rule is written and what it says.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleRef {
    /// The policy or profile the rule belongs to.
    pub policy: String,
    pub rule: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub because: Option<String>,
    /// `file:line:column`.
    pub at: String,
}

/// `POLICY: RULE because "REASON" at FILE:LINE:COLUMN`.
impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.policy, self.rule)?;
        if let Some(because) = &self.because {
            write!(f, " because \"{because}\"")?;
        }
        write!(f, " at {}", self.at)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum CandidateTrace {
    Excluded {
        node: String,
        excluded_by: RuleRef,
        #[serde(flatten)]
        dates: Dates,
    },
    NotStaged {
        node: String,
        /// The node is in no stage of the policy, so it is never used.
        excluded_by: String,
    },
    NoStock {
        node: String,
        /// Free stock after reservations, earlier orders of the batch and safety stock.
        available: i64,
        safety_stock: i64,
    },
    Candidate {
        node: String,
        available: i64,
        #[serde(skip_serializing_if = "Option::is_none")]
        stage: Option<String>,
        /// Per-unit and per-line cost terms for this line at this node, by name.
        #[serde(serialize_with = "as_map")]
        costs: Vec<(String, f64)>,
        #[serde(flatten)]
        dates: Dates,
    },
}

/// When a node would ship and deliver an order (ISO dates), as far as the order and the
/// policy say.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Dates {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ship_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliver_by: Option<String>,
}

impl CandidateTrace {
    pub fn node(&self) -> &str {
        match self {
            CandidateTrace::Excluded { node, .. }
            | CandidateTrace::NotStaged { node, .. }
            | CandidateTrace::NoStock { node, .. }
            | CandidateTrace::Candidate { node, .. } => node,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LineTrace {
    pub line: String,
    pub sku: String,
    pub candidates: Vec<CandidateTrace>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlanValues {
    /// `NODE: line ID × UNITS`, per allocation.
    pub plan: Vec<String>,
    pub units_placed: i64,
    /// The objective's criteria, in order, by name.
    #[serde(serialize_with = "as_map")]
    pub criteria: Vec<(String, f64)>,
}

/// The per-shipment cost terms of one shipment of the chosen plan.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ShipmentCosts {
    pub node: String,
    #[serde(serialize_with = "as_map")]
    pub costs: Vec<(String, f64)>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Trace {
    /// Rules of the policy and profiles that rejected or held the order, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_rule: Option<RuleRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    pub lines: Vec<LineTrace>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chosen: Option<PlanValues>,
    /// The best plan the search evaluated that differs from the chosen one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alternative: Option<PlanValues>,
    /// Per shipment of the chosen plan: its per-shipment cost terms, by name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shipment_costs: Vec<ShipmentCosts>,
    /// True when the search stopped at its budget: the plan is the best found.
    pub search_complete: bool,
    /// Where the rules that had an effect on this decision are written: the policy and
    /// profiles that applied, exclusions that removed a candidate, safety stock held
    /// back, non-zero costs, the stage used, order rules and shortage handling that fired.
    /// For test coverage; not part of the JSON.
    #[serde(skip)]
    pub exercised: Vec<allot_plan::Origin>,
}
