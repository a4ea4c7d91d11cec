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
    ($($konst:ident = $id:literal $severity:ident $name:literal;)*) => {
        impl Code {
            $(pub const $konst: Code = Code { id: $id, severity: Severity::$severity, name: $name };)*
        }
        /// Every code, in numeric order.
        pub const ALL_CODES: &[Code] = &[$(Code::$konst),*];
    };
}

codes! {
    // Syntax.
    SYNTAX = "E0001" Error "syntax-error";
    UNTERMINATED_STRING = "E0002" Error "unterminated-string";
    INVALID_CHARACTER = "E0003" Error "invalid-character";
    UNCLOSED_DELIMITER = "E0004" Error "unclosed-delimiter";
    INVALID_NUMBER = "E0005" Error "invalid-number";
    INVALID_ESCAPE = "E0006" Error "invalid-escape";
    FILE_TOO_LARGE = "E0007" Error "file-too-large";
    // Names.
    UNKNOWN_NAME = "E0101" Error "unknown-name";
    UNKNOWN_ATTRIBUTE = "E0102" Error "unknown-attribute";
    UNKNOWN_UNIT = "E0103" Error "unknown-unit";
    UNKNOWN_VARIANT = "E0104" Error "unknown-variant";
    UNKNOWN_TYPE = "E0105" Error "unknown-type";
    UNKNOWN_FUNCTION = "E0106" Error "unknown-function";
    DUPLICATE_DECLARATION = "E0107" Error "duplicate-declaration";
    DUPLICATE_SCHEMA_ENTRY = "E0108" Error "duplicate-schema-entry";
    DUPLICATE_LOCAL = "E0109" Error "duplicate-local";
    AMBIGUOUS_VARIANT = "E0110" Error "ambiguous-variant";
    CYCLE = "E0111" Error "cycle";
    INVALID_ATTRIBUTE_OWNER = "E0112" Error "invalid-attribute-owner";
    // Types and units.
    TYPE_MISMATCH = "E0201" Error "type-mismatch";
    CONDITION_NOT_BOOL = "E0202" Error "condition-not-bool";
    COST_NOT_MONEY = "E0203" Error "cost-not-money";
    MISSING_UNIT = "E0204" Error "missing-unit";
    DIMENSION_MISMATCH = "E0205" Error "dimension-mismatch";
    INVALID_OPERANDS = "E0206" Error "invalid-operands";
    MIXED_CURRENCY = "E0207" Error "mixed-currency";
    WRONG_ARITY = "E0208" Error "wrong-arity";
    ARGUMENT_TYPE = "E0209" Error "argument-type";
    NOT_A_COLLECTION = "E0210" Error "not-a-collection";
    INVALID_COUNT = "E0211" Error "invalid-count";
    DIVISION_BY_ZERO = "E0212" Error "division-by-zero";
    // Contexts.
    CONTEXT_UNAVAILABLE = "E0301" Error "context-unavailable";
    // Structure of declarations.
    DUPLICATE_ITEM = "E0401" Error "duplicate-item";
    NOT_ALLOWED_IN_PROFILE = "E0402" Error "not-allowed-in-profile";
    TABLE_NOT_EXHAUSTIVE = "E0403" Error "table-not-exhaustive";
    // Warnings.
    UNUSED_CONST = "W0001" Warning "unused-const";
    UNUSED_TABLE = "W0002" Warning "unused-table";
    UNUSED_LET = "W0003" Warning "unused-let";
    ALWAYS_TRUE = "W0004" Warning "always-true";
    ALWAYS_FALSE = "W0005" Warning "always-false";
    DUPLICATE_STAGE = "W0006" Warning "duplicate-stage";
    PRIORITY_TIE = "W0007" Warning "priority-tie";
    PROFILE_LOOSER = "W0008" Warning "profile-looser";
    UNREACHABLE_ROW = "W0009" Warning "unreachable-row";
}
