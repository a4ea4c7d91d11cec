" Allot syntax: keywords, literals and comments. The language server adds semantic
" highlighting on top.
if exists("b:current_syntax")
  finish
endif

syn keyword allotDeclaration schema const table policy compliance returns enum let
syn keyword allotItem applies when priority exclude because safety stock cost per objective minimize maximize stage on shortage reject hold ship complete no split transit within business deliver refund without dispose
syn keyword allotConstant backorder cancel shipment unit true false
syn keyword allotOperator and or not in
syn keyword allotConditional if then else
syn keyword allotContext order line node
syn keyword allotType bool int number string location money distance weight duration percent set
syn match allotNumber "\<\d[0-9_]*\(\.\d[0-9_]*\)\?"
syn match allotUnit "\(\d\s*\)\@<=\(km\|mi\|kg\|g\|lb\|oz\|min\|minutes\|h\|hours\?\|days\?\|%\|[A-Z]\{3}\)\>"
syn region allotString start=+"+ end=+"+ end=+$+ oneline
syn match allotComment "//.*$"
syn match allotDocComment "///.*$"

hi def link allotDeclaration Keyword
hi def link allotItem Statement
hi def link allotConstant Constant
hi def link allotOperator Operator
hi def link allotConditional Conditional
hi def link allotContext Identifier
hi def link allotType Type
hi def link allotNumber Number
hi def link allotUnit Special
hi def link allotString String
hi def link allotComment Comment
hi def link allotDocComment SpecialComment

let b:current_syntax = "allot"
