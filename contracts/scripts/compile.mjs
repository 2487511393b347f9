// Compiles contracts/solidity/**/*.sol with the solc-js version pinned in package.json and writes
// one artifact per contract to contracts/out/<Name>.json ({ abi, bytecode, deployedBytecode }),
// the format alloy's `sol!` macro reads. out/manifest.json records the compiler, the settings and
// a SHA-256 of every source file; the Rust crate's build script refuses to build when the sources
// no longer match it.
//
//   node scripts/compile.mjs          compile and write out/
//   node scripts/compile.mjs --check  compile and fail if out/ differs from what is committed

import { createHash } from "node:crypto";
import { readFileSync, readdirSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const solc = require("solc");

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const sourceDir = join(root, "solidity");
const outDir = join(root, "out");
const nodeModules = join(root, "node_modules");
const check = process.argv.includes("--check");

// Contracts whose artifacts the Rust side loads.
const CONTRACTS = [
  "Bridge",
  "TestToken",
  "FeeOnTransferToken",
  "ReentrantToken",
  "RejectingReceiver",
  "GasBurningReceiver",
  "GasBurningToken",
];

const settings = {
  optimizer: { enabled: true, runs: 10_000 },
  viaIR: true,
  evmVersion: "cancun",
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
};

function listSources(dir) {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return listSources(path);
      return entry.name.endsWith(".sol") ? [path] : [];
    })
    .sort();
}

function sha256(text) {
  return createHash("sha256").update(text).digest("hex");
}

const files = listSources(sourceDir);
const sources = {};
const hashes = {};
for (const file of files) {
  const name = relative(root, file).split("\\").join("/");
  const content = readFileSync(file, "utf8");
  sources[name] = { content };
  hashes[name] = sha256(content);
}

function findImports(path) {
  const candidate = join(nodeModules, path);
  if (existsSync(candidate)) return { contents: readFileSync(candidate, "utf8") };
  return { error: `import not found: ${path} (run npm ci in contracts/)` };
}

const input = { language: "Solidity", sources, settings };
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));

const problems = (output.errors ?? []).filter((e) => e.severity === "error");
for (const e of output.errors ?? []) console.error(e.formattedMessage);
if (problems.length > 0) {
  console.error(`solc reported ${problems.length} error(s)`);
  process.exit(1);
}

const artifacts = {};
for (const [file, contracts] of Object.entries(output.contracts)) {
  for (const [name, c] of Object.entries(contracts)) {
    if (!CONTRACTS.includes(name)) continue;
    if (artifacts[name]) throw new Error(`two contracts named ${name}`);
    artifacts[name] = {
      source: file,
      abi: c.abi,
      bytecode: `0x${c.evm.bytecode.object}`,
      deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
    };
  }
}
for (const name of CONTRACTS) {
  if (!artifacts[name]) throw new Error(`contract ${name} not found in solidity/`);
}

const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const manifest = {
  compiler: solc.version(),
  openzeppelin: pkg.devDependencies["@openzeppelin/contracts"],
  settings: { ...settings, outputSelection: undefined },
  sources: hashes,
};

const outputs = { "manifest.json": manifest };
for (const name of CONTRACTS) outputs[`${name}.json`] = artifacts[name];

let stale = [];
if (!check) mkdirSync(outDir, { recursive: true });
for (const [file, value] of Object.entries(outputs)) {
  const text = `${JSON.stringify(value, null, 2)}\n`;
  const path = join(outDir, file);
  if (check) {
    if (!existsSync(path) || readFileSync(path, "utf8") !== text) stale.push(file);
  } else {
    writeFileSync(path, text);
  }
}
if (check) {
  if (stale.length > 0) {
    console.error(`stale artifacts in contracts/out: ${stale.join(", ")}; run \`make contracts\``);
    process.exit(1);
  }
  console.log("contracts/out is up to date");
} else {
  for (const name of CONTRACTS) {
    const size = (artifacts[name].deployedBytecode.length - 2) / 2;
    console.log(`${name}: ${size} bytes deployed`);
  }
}
