// A bundle for a phone that pulls in a Node or a DOM module must fail the build (metro.config.js),
// not crash at start on the device: bundle each probe of test/probes (for Android or iOS: the same resolver serves both), and
// expect Metro to refuse it, naming the module.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const probes = [
  ["test/probes/node-module.js", "ios", "node:fs"],
  ["test/probes/node-package.js", "android", "ws is a Node module"],
  ["test/probes/dom-module.js", "ios", "react-dom/client is a DOM module"],
];
const out = mkdtempSync(join(tmpdir(), "parley-bundle-guard-"));
let passed = 0;
let failed = 0;
for (const [entry, platform, expected] of probes) {
  const run = spawnSync(
    "npx",
    ["expo", "export:embed", "--entry-file", entry, "--platform", platform, "--dev", "false", "--minify", "false",
      "--bundle-output", join(out, `${platform}.js`)],
    { encoding: "utf8", env: { ...process.env, EXPO_OFFLINE: "1", EXPO_NO_TELEMETRY: "1", CI: "1" } },
  );
  const output = `${run.stdout}${run.stderr}`;
  if (run.status !== 0 && output.includes(expected)) {
    passed += 1;
    console.log(`ok: ${entry} refused for ${platform}`);
  } else {
    failed += 1;
    console.log(`FAILED: ${entry} for ${platform}: exit ${run.status}, expected a refusal naming "${expected}"\n${output}`);
  }
}
rmSync(out, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
