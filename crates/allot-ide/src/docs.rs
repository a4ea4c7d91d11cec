//! What keywords and units mean, for hover.

/// The meaning of a keyword, in Markdown.
pub fn keyword(word: &str) -> Option<&'static str> {
    Some(match word {
        "schema" => {
            "`schema { … }` declares the enums and custom attributes (`item.`, `node.`, `order.`) this merchant's data carries, each with a type and a default."
        }
        "const" => {
            "`const NAME = VALUE` names a value; its type comes from the value or an annotation (`const r: distance = 300 km`)."
        }
        "table" => {
            "`table NAME(PARAM: TYPE, …) -> TYPE { CONDITION => VALUE … _ => VALUE }`: a lookup; the first row whose condition holds gives the value."
        }
        "policy" => {
            "`policy \"NAME\" { … }`: routing rules. Among the policies that apply, the one with the highest `priority` routes the order."
        }
        "compliance" => {
            "`compliance \"NAME\" { … }`: a profile added to the routing policy of every order it applies to. It can only tighten: exclusions, rejections, holds, safety stock, costs, stricter splitting and shortage handling."
        }
        "applies" => {
            "`applies when CONDITION`: the orders this policy or profile is for (order context)."
        }
        "priority" => {
            "`priority N`: among applicable policies, the highest priority routes the order (ties: the earlier name)."
        }
        "let" => "`let NAME = VALUE`: a named value, computed once per the contexts it depends on.",
        "exclude" => {
            "`exclude when CONDITION [because \"REASON\"]`: a node that meets the condition cannot take the line (the whole order when the condition mentions no `line`)."
        }
        "because" => "`because \"REASON\"`: the reason shown in traces and decisions.",
        "safety" => {
            "`safety stock N [when CONDITION]`: units per SKU a node keeps back; `available` is lowered by the largest amount that applies."
        }
        "cost" => {
            "`cost NAME per shipment|line|unit = VALUE [when CONDITION]`: a money term summed over the plan."
        }
        "per" => {
            "`per shipment` (once for each node used), `per line` (per line and node), `per unit` (per unit assigned)."
        }
        "objective" => {
            "`objective { minimize shipments  minimize cost  … }`: ordered criteria; each breaks the ties of the one before. Default: `minimize cost`."
        }
        "minimize" | "maximize" => {
            "An objective criterion: `shipments`, `cost`, `max(E)` or `sum(E)` over the shipments of a plan."
        }
        "stage" => {
            "`stage \"NAME\" when CONDITION`: fallback tiers; the plan is sought among the first stage's nodes, then the first two stages', and so on."
        }
        "on" => "`on shortage backorder|cancel|reject`: what happens to units no node can take.",
        "reject" => {
            "`reject when CONDITION`: the order is rejected before routing (order context)."
        }
        "hold" => {
            "`hold when CONDITION`: the order is held for a person before routing (order context)."
        }
        "when" => "`when CONDITION`: the condition of an item.",
        "and" | "or" | "not" => "Boolean operators.",
        "in" => "`x in SET` or `x in [a, b]`: membership; `not in` is its negation.",
        "if" | "then" | "else" => "`if CONDITION then A else B`: both branches have one type.",
        "true" | "false" => "A `bool`.",
        "no" => "`no line split`: each line's units ship from one node.",
        "returns" => {
            "`returns \"NAME\" { … }`: how returned items are routed back. A return's lines go to the nodes that receive them (those that carry the item, and returns centres that take anything), ranked by the objective as an order's are; `refund without return when` and `dispose when` decide a line before any node. `compliance returns \"NAME\" { … }` is a profile for returns."
        }
        "refund" | "without" => {
            "`refund without return when CONDITION [because \"REASON\"]`: in a returns policy, the shopper keeps the line and is refunded; nothing is sent back (per line, before any node is considered)."
        }
        "dispose" => {
            "`dispose when CONDITION [because \"REASON\"]`: in a returns policy, the line is not sent to any node (per line, after `refund without return`)."
        }
        "return" => {
            "The return being routed, in returns policies: `return.channel`, `return.reason`, `return.from` (where it is sent from), `return.value`, `return.tags`, `return.lines`; its lines have `line.condition`."
        }
        "need" => {
            "`need(node, line.sku)`: units the node is short of its stock target for the SKU (the inventory entry's `target` less what is free there); 0 without a target. A negative cost per unit on it sends returns where stock is needed."
        }
        "transit" => {
            "`transit = DURATION`: how long a shipment from the node takes to reach the shopper, per node and order (`transit = ground(distance(node, order.ship_to))`). A shipment's delivery date is its ship date plus the transit in whole days, rounded up."
        }
        "ship" => {
            "`ship within N business days`: a node that cannot ship the order within N of its working days after the day it was placed cannot take it. The node's ship date comes from its calendar: the order reaches it the day it is placed, or the next working day when placed after its `cutoff` (local time) or on a day off, then it takes its `handling_days`. `ship within 0 business days` means ship the day the order is placed. `ship complete`: one shipment, all lines."
        }
        "deliver" => {
            "`deliver within N days`: a node whose shipment would arrive more than N calendar days after the day the order was placed cannot take it. `deliver by DATE` (such as `order.promised_by`): nor one that would arrive after the date. Both need the policy's `transit`."
        }
        "within" | "business" | "days" | "day" | "by" => {
            "`ship within N business days` counts the node's working days; `deliver within N days` counts calendar days; `deliver by DATE` compares with a date."
        }
        "enum" => "`enum NAME { a, b, … }`: a type whose values are the listed names.",
        "order" => {
            "The order being routed: `order.id`, `order.channel`, `order.ship_to`, `order.value`…"
        }
        "line" => {
            "The order line being placed: `line.sku`, `line.qty`, `line.price`, `line.weight`, `line.item.…`."
        }
        "node" => {
            "The candidate fulfilment node: `node.kind`, `node.location`, `node.tags`, `node.utilization`…"
        }
        "shipment" => {
            "In `per shipment` costs: the shipment's `weight`, `units`, `lines` and `value`."
        }
        "distance" => {
            "`distance(a, b)`: great-circle distance between two locations (or a node and a location)."
        }
        "available" => {
            "`available(node, line.sku)`: units the node can promise after reservations and safety stock."
        }
        "min" => "`min(a, b, …)`: the smallest of values of one type.",
        "max" => {
            "`max(a, b, …)`: the largest of values of one type; `max shipments N` bounds the nodes a plan uses."
        }
        "abs" => "`abs(x)`: the absolute value of a number or quantity.",
        _ => return None,
    })
}

/// The meaning of a unit, in Markdown.
pub fn unit(word: &str) -> Option<String> {
    let dim = allot_check::types::unit_named(word)
        .map(|u| u.dim.name().to_string())
        .or_else(|| allot_check::types::is_currency(word).then(|| "money".to_string()))?;
    Some(format!("`{word}`: a unit of {dim}"))
}
