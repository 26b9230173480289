/**
 * Every type a public signature names can be imported from 'revocable-jwt' by that name: a user
 * who hovers over `verifier.stats()` and sees `TokenCacheStats` can write `import type { TokenCacheStats }`.
 * Walks the built declarations (dist/index.d.ts, what users get) from each export, through every
 * type it names, and lists the names the package does not export. Needs `dist/` (built by `npm test`).
 */
import { describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';

const entry = join(resolve(import.meta.dirname, '../..'), 'dist/index.d.ts');

/** The names of our own types reachable from the package's exports that it does not export. */
function unexportedPublicTypes(): string[] {
  const program = ts.createProgram([entry], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    skipLibCheck: true,
  });
  const checker = program.getTypeChecker();
  const entryFile = program.getSourceFile(entry)!;
  const exports = checker.getExportsOfModule(checker.getSymbolAtLocation(entryFile)!);
  const exported = new Set(exports.map((symbol) => symbol.name));
  const ours = (symbol: ts.Symbol) =>
    (symbol.declarations ?? []).some((d) => !d.getSourceFile().fileName.includes('/node_modules/'));
  const resolveAlias = (symbol: ts.Symbol) =>
    symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
  const missing = new Set<string>();
  const visited = new Set<ts.Symbol>();

  const visitSymbol = (symbol: ts.Symbol): void => {
    if (visited.has(symbol) || !ours(symbol)) return;
    visited.add(symbol);
    for (const declaration of symbol.declarations ?? []) visitNode(declaration);
  };
  const named = (symbol: ts.Symbol | undefined): void => {
    if (symbol === undefined) return;
    const target = resolveAlias(symbol);
    if (!ours(target) || target.flags & ts.SymbolFlags.TypeParameter) return;
    if (!exported.has(target.name)) missing.add(target.name);
    visitSymbol(target);
  };
  const visitNode = (node: ts.Node): void => {
    // Private members are not part of anyone's signature (and have no types in a .d.ts).
    if (ts.canHaveModifiers(node) && ts.getModifiers(node)?.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword))
      return;
    if (ts.isTypeReferenceNode(node)) named(checker.getSymbolAtLocation(node.typeName));
    else if (ts.isExpressionWithTypeArguments(node)) named(checker.getSymbolAtLocation(node.expression));
    else if (ts.isImportTypeNode(node)) {
      const type = checker.getTypeFromTypeNode(node);
      named(type.aliasSymbol ?? type.getSymbol());
    }
    ts.forEachChild(node, visitNode);
  };

  for (const symbol of exports) visitSymbol(resolveAlias(symbol));
  return [...missing].sort();
}

describe('the public types', () => {
  it('are all importable by the names the signatures use', () => {
    if (!existsSync(entry)) throw new Error('dist/ is missing: run `npm run build` (npm test does) first');
    expect(unexportedPublicTypes()).toEqual([]);
  });
});
