/**
 * The built declarations document the API (issue 11), as a user sees them in an editor:
 * - every name `dist/index.d.ts` exports has a TSDoc summary and an `@example`, and every public
 *   member of an exported interface, class or object type has a comment of its own (or inherits one);
 * - every ```ts block in the TSDoc of `src/` compiles, against the built package, under our tsconfig.
 *
 * One TypeScript program holds `dist/index.d.ts`, every example (a virtual module in this folder, so
 * `'revocable-jwt'` resolves to `dist/` through the package's own `exports`, as a user's import
 * does), the context prelude below and two canaries that must fail, so a pipeline that silently
 * checks nothing cannot pass. Needs an up-to-date `dist/` (built by `npm test`).
 */
import { describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';

const root = resolve(import.meta.dirname, '../..');
const entry = join(root, 'dist/index.d.ts');
/** The framework entry points (`revocable-jwt/fastify`, …) other than Express, whose names the root exports. */
const frameworkEntries = ['fastify', 'koa', 'hono', 'fetch'].map((name) => join(root, `dist/${name}/index.d.ts`));
/** The store entry points (`revocable-jwt/postgres`): documented like the root. */
const storeEntries = [join(root, 'dist/stores/postgres-store.d.ts')];

/**
 * Exported names that may still lack docs: empty, and meant to stay so. A name put here (while its
 * file is being rewritten, say) fails the test as soon as it no longer needs to be here.
 */
const MISSING_DOCS_ALLOWED = new Set<string>([]);

/**
 * What every example may use without declaring it: the names the docs take as given. Anything
 * else an example needs it declares itself (`declare const req: Request;`).
 */
const CONTEXT = `
import type { Express } from 'express';
import type { Verifier } from 'revocable-jwt';
declare global {
  /** A verifier from createVerifier(). */
  const verifier: Verifier;
  /** A token, as a request presented it. */
  const token: string;
  /** An Express application. */
  const app: Express;
  /** A pino-style logger. */
  const log: Record<'debug' | 'info' | 'warn' | 'error', (fields: object, message?: string) => void>;
}
export {};
`;

/** Must not compile: proves examples are type-checked against real types (not \`any\`). */
const CANARY_EXAMPLE = `import { createMemoryStore } from 'revocable-jwt';\ncreateMemoryStore({ clock: 'now' });\n`;

/** Must show every kind of gap the check reports. */
const CANARY_DECLARATIONS = `
/**
 * Documented, with an example.
 * @example
 * \`\`\`ts
 * documented();
 * \`\`\`
 */
export declare function documented(): void;
export declare function bare(): void;
/** A summary and no example. */
export interface NoExample {
  /** Commented. */
  a: string;
  b: number;
}
`;
const CANARY_GAPS = [
  'bare: no TSDoc summary',
  'bare: no @example',
  'NoExample: no @example',
  'NoExample.b: no comment',
];

interface Example {
  /** Where the block's first code line is, e.g. `src/stores/memory-store.ts:20`. */
  where: string;
  file: string;
  line: number;
  code: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The ```ts blocks inside the `/** … *\/` comments of `file`, with the source line each starts on. */
function examplesIn(file: string): Example[] {
  const text = readFileSync(file, 'utf8');
  const found: Example[] = [];
  for (const comment of text.matchAll(/\/\*\*[\s\S]*?\*\//g)) {
    const firstLine = text.slice(0, comment.index).split('\n').length;
    const lines = comment[0].split('\n').map((line) => line.replace(/^\s*(\/\*\*|\*\/|\*(?!\/) ?)/, ''));
    let block: { line: number; code: string[] } | undefined;
    lines.forEach((line, index) => {
      if (block === undefined) {
        if (/^```(ts|typescript)\s*$/.test(line.trim())) block = { line: firstLine + index + 1, code: [] };
      } else if (/^```\s*$/.test(line.trim())) {
        const where = `${relative(root, file)}:${block.line}`;
        found.push({ where, file, line: block.line, code: block.code.join('\n') });
        block = undefined;
      } else block.code.push(line);
    });
    if (block !== undefined) throw new Error(`${relative(root, file)}:${block.line}: unclosed \`\`\`ts block`);
  }
  return found;
}

function compilerOptions(): ts.CompilerOptions {
  const path = join(root, 'tsconfig.json');
  const { config } = ts.readConfigFile(path, ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config, ts.sys, root, undefined, path);
  // An example may declare context it does not use.
  return { ...options, noEmit: true, noUnusedLocals: false, noUnusedParameters: false };
}

/** A program over the real files plus `virtual` ones (absolute path → text). */
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

const docText = (parts: ts.SymbolDisplayPart[]) => ts.displayPartsToString(parts).trim();

const isHidden = (member: ts.Node) =>
  ts.isConstructorDeclaration(member) ||
  ts.isIndexSignatureDeclaration(member) ||
  ts.isCallSignatureDeclaration(member) ||
  ts.isConstructSignatureDeclaration(member) ||
  (ts.canHaveModifiers(member) &&
    (ts.getModifiers(member) ?? []).some(
      (m) => m.kind === ts.SyntaxKind.PrivateKeyword || m.kind === ts.SyntaxKind.ProtectedKeyword,
    )) ||
  ((member as ts.NamedDeclaration).name !== undefined && ts.isPrivateIdentifier((member as ts.NamedDeclaration).name!));

/** The members a user reads on an exported interface, class or object type. */
function membersOf(declaration: ts.Declaration): ts.NamedDeclaration[] {
  const literals = (type: ts.TypeNode): ts.TypeElement[] =>
    ts.isTypeLiteralNode(type)
      ? [...type.members]
      : ts.isIntersectionTypeNode(type)
        ? type.types.flatMap(literals)
        : ts.isParenthesizedTypeNode(type)
          ? literals(type.type)
          : [];
  const members: ts.Node[] =
    ts.isInterfaceDeclaration(declaration) || ts.isClassDeclaration(declaration)
      ? [...declaration.members]
      : ts.isTypeAliasDeclaration(declaration)
        ? literals(declaration.type)
        : [];
  return members.filter((member) => !isHidden(member)) as ts.NamedDeclaration[];
}

/** What the exports of `moduleFile` lack, one line per gap, by exported name. */
function documentationGaps(program: ts.Program, moduleFile: string): Map<string, string[]> {
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(moduleFile);
  if (source === undefined) throw new Error(`${moduleFile} is not in the program`);
  const gaps = new Map<string, string[]>();
  for (const exported of checker.getExportsOfModule(checker.getSymbolAtLocation(source)!)) {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const name = exported.name;
    const found: string[] = [];
    const declarations = symbol.declarations ?? [];
    if (docText(symbol.getDocumentationComment(checker)) === '') found.push(`${name}: no TSDoc summary`);
    if (!declarations.some((d) => ts.getJSDocTags(d).some((tag) => tag.tagName.text === 'example')))
      found.push(`${name}: no @example`);
    for (const declaration of declarations) {
      for (const member of membersOf(declaration)) {
        const memberSymbol = member.name && checker.getSymbolAtLocation(member.name);
        if (memberSymbol && docText(memberSymbol.getDocumentationComment(checker)) !== '') continue;
        found.push(`${name}.${member.name?.getText() ?? '?'}: no comment`);
      }
    }
    gaps.set(name, [...new Set(found)]);
  }
  return gaps;
}

function exampleErrors(program: ts.Program, path: string, example: Example | undefined): string[] {
  const source = program.getSourceFile(path)!;
  const diagnostics = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)];
  return diagnostics.map((diagnostic) => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n  ');
    const line = diagnostic.start === undefined ? 0 : source.getLineAndCharacterOfPosition(diagnostic.start).line;
    const where = example ? `${relative(root, example.file)}:${example.line + line}` : path;
    return `${where}: TS${diagnostic.code} ${message}`;
  });
}

describe('the API documentation', () => {
  if (!existsSync(entry)) throw new Error('dist/ is missing: run `npm run build` (npm test does) first');
  const sources = sourceFiles(join(root, 'src'));
  const newest = sources.reduce((a, b) => (statSync(a).mtimeMs >= statSync(b).mtimeMs ? a : b));
  // Examples come from src/ and need no build unless the API changed; the export check reads dist/.
  const staleDist =
    statSync(newest).mtimeMs > statSync(entry).mtimeMs
      ? `dist/ is older than ${relative(root, newest)}: run \`npm run build\` (npm test does) first`
      : undefined;

  const started = performance.now();
  const examples = sources.flatMap(examplesIn);
  const virtual = new Map<string, string>();
  const exampleAt = new Map<string, Example>();
  examples.forEach((example, index) => {
    // Beside this file: inside the package, so 'revocable-jwt' is the package itself (dist/).
    const path = join(import.meta.dirname, `api-docs.example-${index}.ts`);
    // A module of its own (its names shadow the context), lines as in the source.
    virtual.set(path, `${example.code}\nexport {};\n`);
    exampleAt.set(path, example);
  });
  const contextPath = join(import.meta.dirname, 'api-docs.context.ts');
  const canaryExamplePath = join(import.meta.dirname, 'api-docs.canary-example.ts');
  const canaryDeclarationsPath = join(import.meta.dirname, 'api-docs.canary.d.ts');
  virtual.set(contextPath, CONTEXT);
  virtual.set(canaryExamplePath, CANARY_EXAMPLE);
  virtual.set(canaryDeclarationsPath, CANARY_DECLARATIONS);
  const program = createProgram([entry, ...frameworkEntries, ...storeEntries], virtual);
  const elapsed = () => `${Math.round(performance.now() - started)} ms`;

  it('finds what it checks, and catches a broken example and every kind of gap', () => {
    expect(examples.length).toBeGreaterThan(0);
    expect(exampleErrors(program, contextPath, undefined)).toEqual([]);
    expect(exampleErrors(program, canaryExamplePath, undefined)).toEqual([
      expect.stringContaining("TS2322 Type 'string' is not assignable to type '() => number'"),
    ]);
    expect([...documentationGaps(program, canaryDeclarationsPath).values()].flat()).toEqual(CANARY_GAPS);
  });

  it('compiles every ```ts example in the TSDoc of src/ against the built package', () => {
    const errors = [...exampleAt].flatMap(([path, example]) => exampleErrors(program, path, example));
    console.info(`${examples.length} examples compiled in ${elapsed()}`);
    expect(errors.length > 0 && staleDist ? [...errors, staleDist] : errors).toEqual([]);
  });

  it('documents every export of dist/index.d.ts: a summary, an @example, a comment on each member', () => {
    if (staleDist) throw new Error(staleDist);
    const gaps = documentationGaps(program, entry);
    const unexpected = [...gaps].filter(([name]) => !MISSING_DOCS_ALLOWED.has(name)).flatMap(([, found]) => found);
    const allowed = [...MISSING_DOCS_ALLOWED].map((name) => ({ name, gaps: gaps.get(name) }));
    const noLongerMissing = allowed
      .filter(({ gaps }) => gaps === undefined || gaps.length === 0)
      .map(({ name }) => name);
    console.info(
      `${gaps.size} exports checked in ${elapsed()}; still allowed to lack docs (${allowed.length}):\n` +
        allowed.map(({ name, gaps }) => `  ${(gaps ?? [`${name}: not exported`]).join('; ')}`).join('\n'),
    );
    expect(unexpected).toEqual([]);
    // Documented now, or gone: take it off MISSING_DOCS_ALLOWED.
    expect(noLongerMissing).toEqual([]);
  });

  it('documents every export of the framework entry points (fastify, koa, hono, fetch) the same way', () => {
    if (staleDist) throw new Error(staleDist);
    const found = frameworkEntries.map((file) => ({
      file: relative(root, file),
      gaps: documentationGaps(program, file),
    }));
    // Each entry exports the guard, the three routes and their option types at least.
    for (const { gaps } of found) expect(gaps.size).toBeGreaterThanOrEqual(8);
    expect(found.flatMap(({ file, gaps }) => [...gaps.values()].flat().map((gap) => `${file}: ${gap}`))).toEqual([]);
  });

  it('documents every export of the store entry points (postgres) the same way', () => {
    if (staleDist) throw new Error(staleDist);
    const found = storeEntries.map((file) => ({ file: relative(root, file), gaps: documentationGaps(program, file) }));
    for (const { gaps } of found) expect(gaps.size).toBeGreaterThanOrEqual(4);
    expect(found.flatMap(({ file, gaps }) => [...gaps.values()].flat().map((gap) => `${file}: ${gap}`))).toEqual([]);
  });
});
