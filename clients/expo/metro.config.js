// Metro for the app and the SDK it links (`@parley/client` is `file:../ts`, its built dist/).
// Every bundle is checked: a module of Node, or of the DOM on Android and iOS, fails the build
// instead of crashing on the phone (see forbidden() below).
const path = require("node:path");
const { builtinModules } = require("node:module");
const { getDefaultConfig } = require("expo/metro-config");

const app = __dirname;
const sdk = path.resolve(app, "../ts");
const config = getDefaultConfig(app);

config.watchFolders = [sdk];
config.resolver.nodeModulesPaths = [path.join(app, "node_modules"), path.join(sdk, "node_modules")];

// One React for the app and the SDK's hooks: the SDK's own node_modules holds a React for its
// tests, which must never be bundled beside the app's.
const SINGLETONS = ["react", "react-native", "react-dom"];
const NODE = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
// Packages that need a Node runtime or a browser's DOM, never a phone's JavaScript engine.
const NODE_ONLY = new Set(["ws", "xmlhttprequest-ssl", "bufferutil", "utf-8-validate"]);
const DOM_ONLY = new Set(["react-dom", "react-native-web"]);

function packageName(request) {
  const parts = request.split("/");
  return request.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

/** Why `request` may not be in a bundle for `platform`, or null. */
function forbidden(request, platform) {
  const name = packageName(request);
  if (NODE.has(request) || NODE.has(name) || NODE_ONLY.has(name)) return "a Node module";
  if (platform !== "web" && DOM_ONLY.has(name)) return "a DOM module";
  return null;
}

const upstream = config.resolver.resolveRequest;
config.resolver.resolveRequest = (context, request, platform) => {
  const why = forbidden(request, platform);
  if (why !== null) {
    throw new Error(`${request} is ${why}: it cannot be bundled for ${platform} (imported by ${context.originModulePath})`);
  }
  const shared = SINGLETONS.includes(packageName(request));
  const from = shared && context.originModulePath.startsWith(sdk + path.sep) ? { ...context, originModulePath: path.join(app, "index.ts") } : context;
  return (upstream ?? from.resolveRequest)(from, request, platform);
};

module.exports = config;
