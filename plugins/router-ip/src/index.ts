export { ipRouter, PLUGIN_NAME, type IpRouterOptions } from './plugin.js';
export { IpRouter } from './ip-router.js';
export { IP_RULES, IP_RULE_SCHEMA, type IpRule, type AddressRule, type CompiledIpRule, type CompiledIpRules } from './ip-rules.js';
export { AddressSet, parseAddressPattern, parseIp, type AddressPattern, type ParsedIp } from './address.js';
