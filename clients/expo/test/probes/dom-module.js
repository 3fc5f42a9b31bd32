// Must not bundle for Android or iOS: a DOM module.
import { createRoot } from "react-dom/client";

export const probe = createRoot;
