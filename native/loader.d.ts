/** Options naming one addon of a package (see loader.cjs). */
export interface AddonOptions {
  /** package name, e.g. '@convnet/native'; the prebuilt package is `${name}-${platformId()}` */
  name: string;
  /** the package's directory (where CMakeLists.txt and build/ are) */
  root: string;
  /** the addon's file name, e.g. 'convnet_native.node' (the same in build/Release and in the prebuilt package) */
  file: string;
  /** environment variable holding an override path (a debug or sanitizer build) */
  envPath?: string;
  /** an addon the package works without (install skips the build when no compiler is found) */
  optional?: boolean;
}

export type LoadResult<T> =
  | { addon: T; path: string; source: string; error?: undefined }
  | { addon?: undefined; path?: undefined; source?: undefined; error: string };

/** 'linux-x64-gnu', 'linux-arm64-musl', 'darwin-arm64', 'win32-x64-msvc', ... */
export function platformId(): string;
/** `${name}-${platformId()}` */
export function prebuiltPackage(name: string): string;
/** The prebuilt package's directory, or null when it is not installed. */
export function prebuiltDir(name: string, root: string): string | null;
/** True when `root` lies under node_modules (an installed copy, not a checkout). */
export function isInstalled(root: string): boolean;
/** The lines saying what to run (npm and pnpm) to get the addon. */
export function fixHint(name: string, opts?: { optional?: boolean }): string;
/** The addon, or an error naming every place looked at and what to run. Never throws. */
export function tryLoadAddon<T = unknown>(opts: AddonOptions): LoadResult<T>;
/** The addon; throws tryLoadAddon's error. */
export function loadAddon<T = unknown>(opts: AddonOptions): T;
/** An install script's work; returns the exit code. */
export function install(opts: AddonOptions & { jobs?: number; cmakeArgs?: string[]; log?: (m: string) => void }): number;
