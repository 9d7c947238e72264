// Simulated time each step of a script costs, before the simulator's latency scale is applied.
// Figures from reference hyperv-operations.md where it publishes one (section named); the rest
// are stated assumptions sized so a demo feels like a real host without taking minutes.

import { GiB, MiB } from './hyperv-model';

export const LATENCY = {
  /** powershell.exe start: WinPS 5.1 cold start ≈333 ms (PowerShell#8341), ≈250 ms (inspec/train#196); §16. */
  processStartMs: 300,
  /**
   * Hyper-V module auto-load charged to the first cmdlet of a fresh process: §16 says "potentially
   * several seconds" on cold machines (duplicati#7126) without a usable number; 500 ms assumed warm.
   */
  moduleLoadMs: 500,
  /** Get-VM / Get-VMHost and building the result hashtables: no published figure; assumed. */
  readMs: 150,
  /** Set-VMMemory: synchronous, returns when VMWP applied the change (§1); no figure; assumed. */
  setMemoryMs: 400,
  /** Set-VMProcessor: synchronous (§7); no figure; assumed. */
  setProcessorMs: 250,
  /** Add-VMNetworkAdapter on a running VM (guest enumerates a new VMBus device); assumed. */
  addNetworkAdapterMs: 1200,
  removeNetworkAdapterMs: 800,
  /** Add/Remove-VMHardDiskDrive: synchronous attach/detach (§4); assumed. */
  attachDiskMs: 800,
  detachDiskMs: 600,
  /** Set-VMHardDiskDrive -MinimumIOPS/-MaximumIOPS: a settings change (§6); assumed. */
  setQosMs: 200,
  /** New-VHD -Dynamic writes only metadata; assumed. */
  newDynamicVhdMs: 400,
  /** New-VHD -Fixed and growing a fixed VHDX zero-fill (§4, §8): assumed 1 GiB/s volume throughput. */
  zeroFillBytesPerSec: GiB,
  /** Resize-VHD of a dynamic disk only rewrites metadata (§8 "expanding a dynamic VHDX is quick"); assumed. */
  resizeMetadataMs: 600,
  /** Optimize-VHD scans the file (§9 "proportional to size"): assumed 2 GiB/s. */
  optimizeScanBytesPerSec: 2 * GiB,
  /** Add/Set/Remove-VMDvdDrive: synchronous (§5); assumed. */
  dvdMs: 400,
  /** Checkpoint-VM, standard: saves device state; assumed. */
  standardCheckpointMs: 2000,
  /** Checkpoint-VM, production: in-guest VSS freeze/thaw first (§10); assumed. */
  productionCheckpointMs: 5000,
  /** Saving a running VM's memory into a standard checkpoint or a saved-state export: assumed 2 GiB/s. */
  memorySaveBytesPerSec: 2 * GiB,
  /** Remove-VMSnapshot merges the .avhdx into its parent (§10): assumed 1 GiB/s. */
  mergeBytesPerSec: GiB,
  /** Export-VM copies every disk (§11 "long-running; it copies all disks"): assumed 1 GiB/s. */
  exportBytesPerSec: GiB,
  /**
   * Export-VM with the default CaptureSavedState of a running VM: a user measured a 30–90 s guest
   * stall at export start (Digressive/HyperV-Backup-Utility#34, §11); the lower bound is used.
   */
  savedStateExportStallMs: 30_000,
  /** Move-VM negotiation and final switch-over (§12): assumed. */
  migrationSetupMs: 2000,
  /** Live migration memory copy over a 10 GbE migration network: assumed ≈1 GiB/s. */
  migrationMemoryBytesPerSec: GiB,
  /** Shared-nothing storage copy during Move-VM -IncludeStorage: assumed 500 MiB/s. */
  migrationStorageBytesPerSec: 500 * MiB,
  /** Enable-VMReplication / Remove-VMReplication: configuration only (§13); assumed. */
  replicationConfigMs: 2000,
  /** Start-VMInitialReplication copies disks to the replica in the background (§13): assumed 200 MiB/s. */
  initialReplicationBytesPerSec: 200 * MiB,
} as const;

/** Simulated milliseconds to move `bytes` at `bytesPerSec`. */
export function transferMs(bytes: number, bytesPerSec: number): number {
  return Math.ceil((bytes / bytesPerSec) * 1000);
}
