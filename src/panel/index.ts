export { PANEL_CSP, panelPlugin } from './plugin.ts'
