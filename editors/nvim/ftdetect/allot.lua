vim.filetype.add({ extension = { allot = "allot" } })
