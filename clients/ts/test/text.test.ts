/** Message text (PROTOCOL §4.2): decoding is exact and in one pass; encoding is the server's rule. */

import { describe, expect, it } from "vitest";

import { decodeText, encodeText, normalizeText } from "../src/text.js";

describe("decodeText", () => {
  it.each([
    ["if a&lt;b then swap", "if a<b then swap"],
    ["Vector&lt;int&gt; v;", "Vector<int> v;"],
    ["AT&amp;T", "AT&T"],
    ["&amp;lt; typed literally", "&lt; typed literally"],
    ["&amp;amp;", "&amp;"],
    ["&nbsp;&quot;&#60;", "&nbsp;&quot;&#60;"], // only the three entities of §4.2
    ["&amp", "&amp"],
    ["😀 &lt;3", "😀 <3"],
  ])("%j is %j", (body, text) => {
    expect(decodeText(body)).toBe(text);
  });

  it("inverts encodeText for every ASCII punctuation and more", () => {
    const samples = ["!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", "<<&&>>", "&lt;&amp;&gt;", "שלום <עולם>", "e\u0301"];
    for (const text of samples) expect(decodeText(encodeText(text))).toBe(normalizeText(text));
  });
});

describe("encodeText / normalizeText (the copy shown while sending)", () => {
  it.each([
    ["  <b>hi</b> \r\n", "&lt;b&gt;hi&lt;/b&gt;"],
    ["a\r\nb\rc", "a\nbc"],
    ["nul\u0000 del\u007f c1\u0085", "nul del c1"],
    ["e\u0301", "\u00e9"],
    ["\u00a0\u3000 wide \u2028", "wide"],
    ["\ufeffbom", "\ufeffbom"], // not white space to the server (String.trim would take it)
  ])("%j is stored as %j", (typed, stored) => {
    expect(encodeText(typed)).toBe(stored);
  });
});
