import * as protobuf from 'protobufjs';

/**
 * Names and paths exactly as proto-loader-gen-types derives them (its source is the reference), so
 * the service files written here import the message files it wrote.
 */

export interface NameTemplates {
  /** Template of the permissive (input) type name, `%s` by default. */
  readonly inputTemplate: string;
  /** Template of the restricted (output) type name, `%s__Output` by default. */
  readonly outputTemplate: string;
  /** Appended to import specifiers, '' by default ('.js' for ESM consumers). */
  readonly importFileExtension: string;
}

function stripLeadingPeriod(name: string): string {
  return name.startsWith('.') ? name.slice(1) : name;
}

/** `trellis/test/EchoService`: the file of a top-level definition, without extension. */
export function definitionPath(definition: protobuf.ReflectionObject): string {
  return stripLeadingPeriod(definition.fullName).replace(/\./g, '/');
}

/** Types nested in a message live in that message's file. */
function importPath(to: protobuf.ReflectionObject): string {
  return to.parent instanceof protobuf.Type ? importPath(to.parent) : definitionPath(to);
}

function pathToRoot(from: protobuf.ReflectionObject): string {
  const depth = stripLeadingPeriod(from.fullName).split('.').length - 1;
  return depth === 0 ? './' : '../'.repeat(depth);
}

/** `_trellis_test_EchoRequest`: unique across packages, used as the local alias. */
export function typeInterfaceName(type: protobuf.ReflectionObject): string {
  return type.fullName.replace(/\./g, '_');
}

export function inputName(templates: NameTemplates, name: string): string {
  return templates.inputTemplate.replace('%s', name);
}

export function outputName(templates: NameTemplates, name: string): string {
  return templates.outputTemplate.replace('%s', name);
}

/** The import of a message type's input and output interfaces, aliased to their unique names. */
export function messageImportLine(type: protobuf.Type, from: protobuf.ReflectionObject, templates: NameTemplates): string {
  const alias = typeInterfaceName(type);
  const names =
    type.parent instanceof protobuf.Type
      ? `${inputName(templates, alias)}, ${outputName(templates, alias)}`
      : `${inputName(templates, type.name)} as ${inputName(templates, alias)}, ` +
        `${outputName(templates, type.name)} as ${outputName(templates, alias)}`;
  return `import type { ${names} } from '${pathToRoot(from)}${importPath(type)}${templates.importFileExtension}';`;
}
