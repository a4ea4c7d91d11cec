use crate::Severity;
use std::fmt;

/// A stable diagnostic code. Codes never change meaning once released; the reference
/// (`docs/language.md`) has an example for each.
#[derive(Clone, Copy, Debug)]
pub struct Code {
    id: &'static str,
    severity: Severity,
    /// A short kebab-case name, for docs and for people searching.
    name: &'static str,
    /// One sentence saying what the code means, for rule lists (SARIF, docs).
    summary: &'static str,
}

impl Code {
    pub const fn as_str(&self) -> &'static str {
        self.id
    }

    pub const fn severity(&self) -> Severity {
        self.severity
    }

    pub const fn name(&self) -> &'static str {
        self.name
    }

    pub const fn summary(&self) -> &'static str {
        self.summary
    }
}

impl PartialEq for Code {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for Code {}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id)
    }
}

macro_rules! codes {
    ($($konst:ident = $id:literal $severity:ident $name:literal $summary:literal;)*) => {
        impl Code {
            $(pub const $konst: Code = Code { id: $id, severity: Severity::$severity, name: $name, summary: $summary };)*
        }
        /// Every code, in numeric order.
        pub const ALL_CODES: &[Code] = &[$(Code::$konst),*];
    };
}

codes! {
    // Syntax.
    SYNTAX = "E0001" Error "syntax-error" "The text does not follow the grammar.";
    UNTERMINATED_STRING = "E0002" Error "unterminated-string" "A string is not closed on its line.";
    INVALID_CHARACTER = "E0003" Error "invalid-character" "A character that no token begins with.";
    UNCLOSED_DELIMITER = "E0004" Error "unclosed-delimiter" "A bracket or brace is never closed.";
    INVALID_NUMBER = "E0005" Error "invalid-number" "A number beyond 64-bit integers or 28 significant digits.";
    INVALID_ESCAPE = "E0006" Error "invalid-escape" "A backslash escape that strings do not know.";
    FILE_TOO_LARGE = "E0007" Error "file-too-large" "A source file over 8 MiB.";
    // Names.
    UNKNOWN_NAME = "E0101" Error "unknown-name" "A name that no declaration, parameter or local defines.";
    UNKNOWN_ATTRIBUTE = "E0102" Error "unknown-attribute" "An attribute that the schema does not declare.";
    UNKNOWN_UNIT = "E0103" Error "unknown-unit" "A unit that Allot does not know.";
    UNKNOWN_VARIANT = "E0104" Error "unknown-variant" "A variant that the enum does not have.";
    UNKNOWN_TYPE = "E0105" Error "unknown-type" "A type that is neither built in nor declared.";
    UNKNOWN_FUNCTION = "E0106" Error "unknown-function" "A function that is neither built in nor a table.";
    DUPLICATE_DECLARATION = "E0107" Error "duplicate-declaration" "Two declarations of one name.";
    DUPLICATE_SCHEMA_ENTRY = "E0108" Error "duplicate-schema-entry" "An attribute, enum or variant declared twice in the schema.";
    DUPLICATE_LOCAL = "E0109" Error "duplicate-local" "Two locals, costs, stages or parameters of one name.";
    AMBIGUOUS_VARIANT = "E0110" Error "ambiguous-variant" "A variant name that several enums have, used where the type does not tell which.";
    CYCLE = "E0111" Error "cycle" "Declarations that depend on themselves.";
    INVALID_ATTRIBUTE_OWNER = "E0112" Error "invalid-attribute-owner" "An attribute declared on something that cannot carry it, or a built-in one redeclared.";
    // Types and units.
    TYPE_MISMATCH = "E0201" Error "type-mismatch" "A value of one type where another is required.";
    CONDITION_NOT_BOOL = "E0202" Error "condition-not-bool" "A condition that is not a boolean.";
    COST_NOT_MONEY = "E0203" Error "cost-not-money" "A cost that is not an amount of money.";
    MISSING_UNIT = "E0204" Error "missing-unit" "A plain number compared with or added to a quantity with a unit.";
    DIMENSION_MISMATCH = "E0205" Error "dimension-mismatch" "Quantities of different dimensions combined.";
    INVALID_OPERANDS = "E0206" Error "invalid-operands" "An operator applied to values it does not take.";
    MIXED_CURRENCY = "E0207" Error "mixed-currency" "More than one currency in one ruleset.";
    WRONG_ARITY = "E0208" Error "wrong-arity" "A call with the wrong number of arguments.";
    ARGUMENT_TYPE = "E0209" Error "argument-type" "A call argument of the wrong type.";
    NOT_A_COLLECTION = "E0210" Error "not-a-collection" "`in` applied to something that is not a set or list.";
    INVALID_COUNT = "E0211" Error "invalid-count" "A count that must be positive, or at least zero, and is not.";
    DIVISION_BY_ZERO = "E0212" Error "division-by-zero" "A division by a constant zero.";
    // Contexts.
    CONTEXT_UNAVAILABLE = "E0301" Error "context-unavailable" "A value read where its context (line, shipment, node) is not available.";
    // Structure of declarations.
    DUPLICATE_ITEM = "E0401" Error "duplicate-item" "An item that may appear once, given twice.";
    NOT_ALLOWED_IN_PROFILE = "E0402" Error "not-allowed-in-profile" "An item that a compliance profile may not have.";
    TABLE_NOT_EXHAUSTIVE = "E0403" Error "table-not-exhaustive" "A table whose rows do not cover every case and has no `_ =>` row.";
    WRONG_DOMAIN = "E0404" Error "wrong-domain" "An item or value of returns in an order policy, or of orders in a returns policy.";
    // Warnings.
    UNUSED_CONST = "W0001" Warning "unused-const" "A constant that nothing uses.";
    UNUSED_TABLE = "W0002" Warning "unused-table" "A table that nothing calls.";
    UNUSED_LET = "W0003" Warning "unused-let" "A `let` that nothing uses.";
    ALWAYS_TRUE = "W0004" Warning "always-true" "A condition that is always true.";
    ALWAYS_FALSE = "W0005" Warning "always-false" "A condition that is always false.";
    DUPLICATE_STAGE = "W0006" Warning "duplicate-stage" "A stage whose condition repeats an earlier stage's.";
    PRIORITY_TIE = "W0007" Warning "priority-tie" "Two policies of one priority that can apply to the same order.";
    PROFILE_LOOSER = "W0008" Warning "profile-looser" "A compliance profile item that loosens the policy it is layered on.";
    UNREACHABLE_ROW = "W0009" Warning "unreachable-row" "A table row that no value can reach.";
    // Master data (`allot check --network`): what rules name that the network lacks.
    UNKNOWN_NODE = "W0101" Warning "unknown-node" "A node id that no node of the network has.";
    UNKNOWN_TAG = "W0102" Warning "unknown-tag" "A tag that no node of the network has.";
    UNKNOWN_SKU = "W0103" Warning "unknown-sku" "A SKU that no item of the network has.";
    VALUE_NOT_IN_DATA = "W0104" Warning "value-not-in-data" "A kind, location or attribute value that no node or item of the network has.";
    ATTRIBUTE_NOT_IN_DATA = "W0105" Warning "attribute-not-in-data" "A node or item attribute of the schema that no record of the network gives.";
    VARIANT_NOT_IN_DATA = "W0106" Warning "variant-not-in-data" "A variant of a node or item attribute that no record of the network has.";
}
