// Copies every ruleset file of the repository into tests/rulesets/, where the grammar's
// snapshot tests run on them (their .snap files are committed; the copies are not).
const fs = require("fs");
const path = require("path");

const source = path.resolve(__dirname, "../../../rulesets");
const target = path.resolve(__dirname, "rulesets");

function copy(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const from = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      copy(from);
    } else if (entry.name.endsWith(".allot")) {
      const to = path.join(target, path.relative(source, from));
      fs.mkdirSync(path.dirname(to), { recursive: true });
      fs.copyFileSync(from, to);
    }
  }
}

copy(source);
