-- The Allot language server, for Neovim 0.11+: `vim.lsp.enable("allot")`.
return {
  cmd = { "allot", "lsp" },
  filetypes = { "allot" },
  root_markers = { ".git" },
}
