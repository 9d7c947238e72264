export { ConfigError, formatConfigPath } from './config-errors';
export {
  CONFIG_ENV_VAR,
  loadConfig,
  parseConfig,
  resolveConfig,
  resolveConfigPath,
  validateConfig,
  type ConfigIo,
  type HostCredentials,
  type LoadedConfig,
  type PublicKeyMaterial,
  type ResolvedSecrets,
} from './config-loader';
export { redactConfig } from './config-redact';
export {
  configSchema,
  JWT_ALGORITHMS,
  type AuditConfig,
  type AuthConfig,
  type GroupConfig,
  type HostConfig,
  type HvgateConfig,
  type JwtAlgorithm,
  type ServerConfig,
  type StoreConfig,
} from './config-schema';
export { SecretValue, stripTrailingNewline } from './secret-value';
