// Call recordings: where they are kept and how their length is read.
export { RecordingStore, RECORDING_FORMATS, type RecordingFormat, type RecordingMeta, type NewRecording } from './store.ts'
export { readWavInfo, parseWavHeader, type WavInfo } from './wav.ts'
