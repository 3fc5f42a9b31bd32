/** The READMEs show examples/quickstart.ts as it is (that file is type-checked with the SDK). */

import { describe, expect, it } from "vitest";

import rootReadme from "../../../README.md?raw";
import sdkReadme from "../README.md?raw";
import modes from "../examples/modes.ts?raw";
import quickstart from "../examples/quickstart.ts?raw";

describe("README examples", () => {
  it.each([
    ["README.md", rootReadme],
    ["clients/ts/README.md", sdkReadme],
  ])("%s shows examples/quickstart.ts verbatim", (_, readme) => {
    expect(readme).toContain(quickstart);
  });

  it("clients/ts/README.md shows examples/modes.ts verbatim", () => {
    expect(sdkReadme).toContain(modes);
  });
});
