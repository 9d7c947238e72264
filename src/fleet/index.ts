export {
  createCircuitBreakerRegistry,
  createHostCircuitBreaker,
  isTransportFailure,
  type CircuitBreakerOptions,
  type CircuitBreakerRegistry,
  type CircuitStateName,
  type CircuitStatus,
  type HostCircuitBreaker,
} from './circuit-breaker';
export { createManualClock, systemClock, type Clock, type ClockTimer, type ManualClock } from './clock';
export {
  createFleetScheduler,
  type AdmittedJob,
  type FleetJobRequest,
  type FleetScheduler,
  type JobRunContext,
} from './fleet-scheduler';
export {
  HostBusyError,
  HostUnavailableError,
  QueueCancelledError,
  QueueTimeoutError,
  UnknownHostError,
} from './fleet-errors';
export {
  createHostHealthMonitor,
  type HostHealth,
  type HostHealthMonitor,
  type HostHealthOptions,
  type HostProbe,
} from './host-health';
export { createHostInventory, type HostEntry, type HostInput, type HostInventory } from './host-inventory';
export {
  createHostLimiter,
  type HostLimiterOptions,
  type HostSlotSnapshot,
  type SlotCoordinator,
  type SlotLease,
  type SlotRequest,
  type SlotTicket,
} from './host-limiter';
export { createServiceRateEstimator, type ServiceRateEstimator } from './service-rate';
export {
  createVmLocks,
  type VmLockCoordinator,
  type VmLockLease,
  type VmLockRequest,
  type VmLockSnapshot,
} from './vm-lock';
