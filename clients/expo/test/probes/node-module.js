// Must not bundle: a Node module.
import { readFileSync } from "node:fs";

export const probe = readFileSync;
