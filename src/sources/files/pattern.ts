/**
 * Path patterns for `exclude` and for partial restores, matched against paths relative to
 * the tree's root with `/` separators. `*` and `?` stay within one segment, `**` spans any
 * number of them. As in .gitignore, a pattern without a `/` matches a name at any depth
 * (`*.tmp`); one with a `/` is anchored at the root (`cache/**`). Node 20's
 * `path.matchesGlob` is experimental there (it warns on every run), hence this small matcher.
 */
export type PathMatcher = (path: string) => boolean

export function compilePattern(pattern: string): RegExp {
  let p = pattern.replace(/\/+$/, '')
  p = p.includes('/') ? p.replace(/^\/+/, '') : `**/${p}`
  let re = ''
  for (let i = 0; i < p.length; ) {
    if (p.startsWith('**/', i)) {
      re += '(?:.*/)?'
      i += 3
    } else if (p.startsWith('**', i)) {
      re += '.*'
      i += 2
    } else if (p[i] === '*') {
      re += '[^/]*'
      i++
    } else if (p[i] === '?') {
      re += '[^/]'
      i++
    } else {
      re += p[i]!.replace(/[.+^${}()|[\]\\]/g, '\\$&')
      i++
    }
  }
  return new RegExp(`^${re}$`, 'u')
}

/** True when a path matches any of the patterns. */
export function matchAny(patterns: readonly string[]): PathMatcher {
  const res = patterns.map(compilePattern)
  return (path) => res.some((re) => re.test(path))
}

/** True when a path or one of its ancestor directories matches: `docs` selects everything under docs. */
export function matchPathOrAncestor(patterns: readonly string[]): PathMatcher {
  const matches = matchAny(patterns)
  return (path) => {
    for (let at = path.length; at > 0; at = path.lastIndexOf('/', at - 1)) {
      if (matches(path.slice(0, at))) return true
    }
    return false
  }
}
