/**
 * The code a user copies from the documentation works as written:
 * - every ```ts block of README.md and docs/*.md compiles against the built package, under our strict
 *   tsconfig. A block is a module of its own; it may use the root exports of 'revocable-jwt' and the
 *   names of CONTEXT below (a `verifier`, an Express `app`, `issuer`, `audience`…) without importing
 *   or declaring them, as the docs take them as given. Anything else it imports or declares itself.
 * - the README's quick start, run as a user runs it (its two placeholder values swapped for the
 *   embedded IdP's), answers the three `curl` calls printed under it as they say.
 * - the README keeps the two set-up commands of "Developing".
 * Needs an up-to-date `dist/` (built by `npm test`).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { type EmbeddedIdp, startIdp } from '../support/idp.js';
import { killProcess } from '../support/kill.js';

const root = resolve(import.meta.dirname, '../..');
const entry = join(root, 'dist/index.d.ts');
const documents = ['README.md', ...readdirSync(join(root, 'docs')).map((file) => `docs/${file}`)].filter((file) =>
  file.endsWith('.md'),
);

/** What every block may use without declaring it (besides the root exports of 'revocable-jwt'). */
const CONTEXT = `
import type { Express, RequestHandler } from 'express';
import type { Middleware } from 'koa';
import type { AuthState } from 'revocable-jwt/koa';
import type { RevocationOptions, RevocationStore, Verifier } from 'revocable-jwt';
declare global {
  /** A verifier from createVerifier(). */
  const verifier: Verifier;
  /** A token, as a request presented it; and several. */
  const token: string;
  const tokens: string[];
  /** An Express application. */
  const app: Express;
  /** An Express route handler. */
  const handler: RequestHandler;
  /** The configured issuer and audience. */
  const issuer: string;
  const audience: string;
  /** The \`revocation\` option, as the README's Revocation section builds it. */
  const revocation: RevocationOptions;
  /** A shared store, as the README's "Running many instances" builds it. */
  const store: RevocationStore;
  /** A pino-style logger. */
  const log: Record<'debug' | 'info' | 'warn' | 'error', (fields: object, message?: string) => void>;
  /** A Koa router (@koa/router's shape). */
  const router: {
    get(path: string, ...middleware: Middleware<AuthState>[]): unknown;
    all(path: string, ...middleware: Middleware[]): unknown;
  };
}
export {};
`;

/** Must not compile: proves blocks are type-checked against real types, with the prelude in place. */
const CANARY = "```ts\ncreateMemoryStore({ clock: 'now' });\n```\n";

interface Block {
  /** `README.md:22`: the block's first code line. */
  where: string;
  file: string;
  line: number;
  code: string;
  /** The heading the block is under. */
  section: string;
}

/** The ```ts blocks of a Markdown text, with the line each one's code starts on. */
function blocksOf(file: string, text: string): Block[] {
  const found: Block[] = [];
  let block: { line: number; code: string[] } | undefined;
  let fence: string | undefined;
  let section = '';
  text.split('\n').forEach((line, index) => {
    const marker = /^(`{3,}|~{3,})(\S*)/.exec(line);
    if (fence === undefined) {
      if (marker) {
        fence = marker[1];
        if (marker[2] === 'ts' || marker[2] === 'typescript') block = { line: index + 2, code: [] };
      } else if (/^#{1,6} /.test(line)) section = line.replace(/^#+ /, '');
      return;
    }
    if (marker && marker[1] === fence && marker[2] === '') {
      if (block)
        found.push({ where: `${file}:${block.line}`, file, line: block.line, code: block.code.join('\n'), section });
      fence = undefined;
      block = undefined;
    } else block?.code.push(line);
  });
  return found;
}

function compilerOptions(): ts.CompilerOptions {
  const path = join(root, 'tsconfig.json');
  const { config } = ts.readConfigFile(path, ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config, ts.sys, root, undefined, path);
  // A block may leave what it declares unused (an `app`, a `store` shown for its options).
  return { ...options, noEmit: true, noUnusedLocals: false, noUnusedParameters: false };
}

function createProgram(roots: string[], virtual: Map<string, string>): ts.Program {
  const options = compilerOptions();
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (name) => virtual.has(name) || fileExists.call(host, name);
  host.readFile = (name) => virtual.get(name) ?? readFile.call(host, name);
  host.getSourceFile = (name, language, ...rest) => {
    const text = virtual.get(name);
    if (text !== undefined) return ts.createSourceFile(name, text, language);
    return getSourceFile.call(host, name, language, ...rest);
  };
  return ts.createProgram([...roots, ...virtual.keys()], options, host);
}

/** The names a block binds at its top level (imports, declarations): the prelude must not import those. */
function boundNames(code: string): Set<string> {
  const source = ts.createSourceFile('block.ts', code, ts.ScriptTarget.ES2022);
  const names = new Set<string>();
  const bind = (name: ts.BindingName) => {
    if (ts.isIdentifier(name)) names.add(name.text);
    else for (const element of name.elements) if (!ts.isOmittedExpression(element)) bind(element.name);
  };
  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement) && statement.importClause) {
      const clause = statement.importClause;
      if (clause.name) names.add(clause.name.text);
      const bindings = clause.namedBindings;
      if (bindings && ts.isNamespaceImport(bindings)) names.add(bindings.name.text);
      if (bindings && ts.isNamedImports(bindings))
        for (const element of bindings.elements) names.add(element.name.text);
    } else if (ts.isVariableStatement(statement)) {
      for (const declaration of statement.declarationList.declarations) bind(declaration.name);
    } else if (
      (ts.isFunctionDeclaration(statement) ||
        ts.isClassDeclaration(statement) ||
        ts.isInterfaceDeclaration(statement) ||
        ts.isTypeAliasDeclaration(statement)) &&
      statement.name
    ) {
      names.add(statement.name.text);
    }
  }
  return names;
}

/** The root exports of the built package, each as `name` (a value) or `type name`. */
function rootExports(): string[] {
  const program = ts.createProgram([entry], compilerOptions());
  const checker = program.getTypeChecker();
  const module = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!;
  return checker.getExportsOfModule(module).map((exported) => {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    return symbol.flags & ts.SymbolFlags.Value ? exported.name : `type ${exported.name}`;
  });
}

/** One line importing every root export the block does not bind itself. */
function prelude(code: string, exports: string[]): string {
  const bound = boundNames(code);
  const names = exports.filter((name) => !bound.has(name.replace(/^type /, '')));
  return `import { ${names.join(', ')} } from 'revocable-jwt';`;
}

function errorsOf(program: ts.Program, path: string, block: Block): string[] {
  const source = program.getSourceFile(path)!;
  const diagnostics = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)];
  return diagnostics.map((diagnostic) => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n  ');
    // Line 0 is the prelude; the block's code starts on line 1.
    const line = diagnostic.start === undefined ? 0 : source.getLineAndCharacterOfPosition(diagnostic.start).line;
    return `${block.file}:${block.line + line - 1}: TS${diagnostic.code} ${message}`;
  });
}

describe('the code in the documentation', () => {
  if (!existsSync(entry)) throw new Error('dist/ is missing: run `npm run build` (npm test does) first');
  const blocks = documents.flatMap((file) => blocksOf(file, readFileSync(join(root, file), 'utf8')));
  const exports = rootExports();
  const virtual = new Map<string, string>();
  const blockAt = new Map<string, Block>();
  const add = (name: string, block: Block) => {
    // Beside this file: inside the package, so 'revocable-jwt' is the package itself (dist/).
    const path = join(import.meta.dirname, `doc-snippets.${name}.ts`);
    virtual.set(path, `${prelude(block.code, exports)}\n${block.code}\nexport {};\n`);
    blockAt.set(path, block);
    return path;
  };
  for (const [index, block] of blocks.entries()) add(`block-${index}`, block);
  const canaryPath = add('canary', blocksOf('canary.md', CANARY)[0]!);
  const contextPath = join(import.meta.dirname, 'doc-snippets.context.ts');
  virtual.set(contextPath, CONTEXT);
  const program = createProgram([entry], virtual);

  it('finds the blocks of every document, and a block that misuses the API fails', () => {
    expect(blocks.length).toBeGreaterThan(30);
    for (const file of ['README.md', 'docs/verifying.md', 'docs/idp-setup.md', 'docs/many-instances.md'])
      expect(blocks.some((block) => block.file === file)).toBe(true);
    expect(program.getSemanticDiagnostics(program.getSourceFile(contextPath)!)).toEqual([]);
    expect(errorsOf(program, canaryPath, blockAt.get(canaryPath)!)).toEqual([
      expect.stringMatching(/^canary\.md:2: TS2322 Type 'string' is not assignable to type '\(\) => number'/),
    ]);
  });

  it('compiles every ```ts block of README.md and docs/ against the built package', () => {
    const errors = [...blockAt]
      .filter(([path]) => path !== canaryPath)
      .flatMap(([path, block]) => errorsOf(program, path, block));
    expect(errors).toEqual([]);
  });

  it('keeps the two set-up commands in the README\'s "Developing" section', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const developing = readme.slice(
      readme.indexOf('\n## Developing\n'),
      readme.indexOf('\n## ', readme.indexOf('\n## Developing\n') + 1),
    );
    expect(developing).toContain('\nnpm ci && npm start ');
    expect(developing).toContain('\nnpm ci && npm test ');
  });
});

describe("the oidc-provider recipe's token request (docs/idp-setup.md)", () => {
  let idp: EmbeddedIdp;
  beforeAll(async () => {
    idp = await startIdp();
  });
  afterAll(async () => {
    await idp?.close();
  });

  it("names the embedded IdP's client, and the request it shows gets a JWT access token for the audience", async () => {
    const recipe = readFileSync(join(root, 'docs/idp-setup.md'), 'utf8');
    const { clientId, clientSecret } = idp.client;
    expect(recipe).toContain(`curl -s -u ${clientId}:${clientSecret} -d grant_type=client_credentials \\\n`);
    expect(recipe).toContain('  -d scope=notes:read -d resource=$ISSUER/notes-api $ISSUER/token\n');
    expect(idp.audience).toBe(`${idp.issuer}/notes-api`);
    // The same request curl sends: Basic client authentication and a form body.
    const response = await fetch(`${idp.issuer}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${btoa(`${clientId}:${clientSecret}`)}` },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'notes:read', resource: idp.audience }),
    });
    const answer = (await response.json()) as { access_token: string; scope: string; token_type: string };
    expect([response.status, answer.scope, answer.token_type]).toEqual([200, 'notes:read', 'Bearer']);
    expect(answer.access_token.split('.')).toHaveLength(3);
  });
});

describe("the README's quick start, run", () => {
  let idp: EmbeddedIdp;
  let workdir: string;
  beforeAll(async () => {
    idp = await startIdp();
    // Under the package root, so `import 'revocable-jwt'` resolves to the package itself and
    // `express` to our node_modules, as in an app that installed both.
    await mkdir(join(root, '.cache'), { recursive: true });
    workdir = await mkdtemp(join(root, '.cache/quick-start-'));
  });
  afterAll(async () => {
    await idp?.close();
    if (workdir) await rm(workdir, { recursive: true, force: true });
  });

  /** A port free right now (the quick start listens on the one it names). */
  const freePort = () =>
    new Promise<number>((resolvePort, reject) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolvePort(port));
      });
      server.on('error', reject);
    });

  /** `text` with `from` replaced, which must occur exactly once (or the README changed shape). */
  const swap = (text: string, from: string, to: string) => {
    expect(text.split(from).length - 1).toBe(1);
    return text.replace(from, to);
  };

  it('serves the token, logs it out, then refuses it, as the curl lines under it say', async () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const block = blocksOf('README.md', readme).find((candidate) => candidate.section === 'Quick start');
    expect(block).toBeDefined();
    const port = await freePort();
    let code = swap(block!.code, "'https://idp.example.com/'", JSON.stringify(idp.issuer));
    code = swap(code, "'https://api.example.com'", JSON.stringify(idp.audience));
    code = swap(code, 'app.listen(3000);', `app.listen(${port}, () => console.log('listening'));`);
    const { outputText } = ts.transpileModule(code, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    });
    const file = join(workdir, 'quick-start.mjs');
    await writeFile(file, outputText);
    const child = spawn(process.execPath, [file], { cwd: workdir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    try {
      await new Promise<void>((ready, fail) => {
        child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('listening') && ready());
        child.once('exit', (exitCode) => fail(new Error(`quick start exited (${exitCode}): ${stderr}`)));
      });
      const base = `http://127.0.0.1:${port}`;
      const token = await idp.issueAccessToken({ scope: 'notes:read' });
      const bearer = { authorization: `Bearer ${token}` };
      const first = await fetch(`${base}/notes`, { headers: bearer });
      expect(first.status).toBe(200);
      expect(((await first.json()) as { sub: string }).sub).toBe(idp.client.clientId);
      const logout = await fetch(`${base}/logout`, { method: 'POST', headers: bearer });
      expect([logout.status, await logout.json()]).toEqual([200, { revoked: true }]);
      const after = await fetch(`${base}/notes`, { headers: bearer });
      expect([after.status, await after.json()]).toEqual([
        401,
        { error: 'invalid_token', error_description: 'The access token has been revoked' },
      ]);
    } finally {
      await killProcess(child, 'SIGTERM');
    }
    expect(stderr).not.toMatch(/Error/);
  });
});
