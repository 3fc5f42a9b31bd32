// What an app has anyway (from the DOM, React Native or Node types); the SDK itself needs none.
declare const console: { log(...values: unknown[]): void };
